using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Handlers.Files;

/// <summary>Describes one entry (docs/protocol.md §5.5); a missing one is not_found.</summary>
internal sealed class StatHandler : ICommandHandler
{
    public string Command => CommandNames.Stat;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Read;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var request = context.Header.Deserialize(FerryJsonContext.Default.StatMessage);
        var path = RemotePath.Normalize(request.Path ?? "");
        var entry = await context.Session.Store.StatAsync(path, cancellationToken).ConfigureAwait(false)
            ?? throw new FerryException(FerryErrorCode.NotFound, $"'{path}' does not exist.");
        context.Writer.WriteHeader(new StatResultMessage { Path = path, Entry = entry.ToWire() }, FerryJsonContext.Default.StatResultMessage);
    }
}
