using System.Text.Json;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Handlers.Files;

/// <summary>Lists a directory; the entries travel as a JSON array in the body, so no listing is limited by the header size.</summary>
internal sealed class ListHandler : ICommandHandler
{
    public string Command => CommandNames.List;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Read;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var request = context.Header.Deserialize(FerryJsonContext.Default.ListMessage);
        var path = RemotePath.Normalize(request.Path ?? "");
        var entries = await context.Session.Store.ListAsync(path, request.Recursive, cancellationToken).ConfigureAwait(false);
        var body = JsonSerializer.SerializeToUtf8Bytes(entries.Select(e => e.ToWire()).ToList(), FerryJsonContext.Default.ListFileEntry);
        context.Writer.WriteHeader(new ListingMessage { Path = path, Count = entries.Count, BodySize = body.Length },
            FerryJsonContext.Default.ListingMessage, body.Length);
        context.Writer.WriteBody(body);
    }
}
