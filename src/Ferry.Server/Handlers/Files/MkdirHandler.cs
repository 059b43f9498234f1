using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Handlers.Files;

/// <summary>Creates a folder, with its parents when asked (docs/protocol.md §5.5).</summary>
internal sealed class MkdirHandler : ICommandHandler
{
    public string Command => CommandNames.Mkdir;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Write;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var request = context.Header.Deserialize(FerryJsonContext.Default.MkdirMessage);
        await context.Session.Store.CreateDirectoryAsync(RemotePath.Normalize(request.Path), request.Parents, cancellationToken).ConfigureAwait(false);
        context.Writer.WriteHeader(new OkMessage(), FerryJsonContext.Default.OkMessage);
    }
}
