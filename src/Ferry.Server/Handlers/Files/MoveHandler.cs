using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Handlers.Files;

/// <summary>Renames or moves an entry within the root; replacing needs force (docs/protocol.md §5.5).</summary>
internal sealed class MoveHandler : ICommandHandler
{
    public string Command => CommandNames.Move;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Write;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var request = context.Header.Deserialize(FerryJsonContext.Default.MoveMessage);
        await context.Session.Store.MoveAsync(RemotePath.Normalize(request.From), RemotePath.Normalize(request.To), request.Force, cancellationToken)
            .ConfigureAwait(false);
        context.Writer.WriteHeader(new OkMessage(), FerryJsonContext.Default.OkMessage);
    }
}
