using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Handlers.Sync;

/// <summary>The second step of a two-level delta put: the chunks of the groups the server lacks (docs/protocol.md §5.9.6).</summary>
internal sealed class PutChunksHandler(DeltaUploads deltas) : ICommandHandler
{
    public string Command => CommandNames.PutChunks;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Write;

    public ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken) =>
        deltas.ContinueAsync(context, context.Header.Deserialize(FerryJsonContext.Default.PutChunksMessage), cancellationToken);
}
