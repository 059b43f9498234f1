using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Handlers.Sync;

/// <summary>Creates a symbolic link whose relative target stays inside the user's root (docs/protocol.md §5.9.5).</summary>
internal sealed class SymlinkHandler : ICommandHandler
{
    public string Command => CommandNames.Symlink;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Write;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var request = context.Header.Deserialize(FerryJsonContext.Default.SymlinkMessage);
        var path = RemotePath.Normalize(request.Path);
        await context.Session.Store.CreateSymlinkAsync(path, request.Target ?? "", request.Force, cancellationToken).ConfigureAwait(false);
        context.Writer.WriteHeader(new OkMessage(), FerryJsonContext.Default.OkMessage);
    }
}
