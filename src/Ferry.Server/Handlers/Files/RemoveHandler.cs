using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Handlers.Files;

/// <summary>Removes a file, a link or (recursively when asked) a folder (docs/protocol.md §5.5).</summary>
internal sealed class RemoveHandler : ICommandHandler
{
    public string Command => CommandNames.Remove;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Write;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var request = context.Header.Deserialize(FerryJsonContext.Default.RemoveMessage);
        await context.Session.Store.DeleteAsync(RemotePath.Normalize(request.Path), request.Recursive, cancellationToken).ConfigureAwait(false);
        context.Writer.WriteHeader(new OkMessage(), FerryJsonContext.Default.OkMessage);
    }
}
