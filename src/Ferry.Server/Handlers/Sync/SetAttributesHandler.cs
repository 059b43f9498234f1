using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Handlers.Sync;

/// <summary>Sets an entry's mode and/or modification time (docs/protocol.md §5.9.5).</summary>
internal sealed class SetAttributesHandler : ICommandHandler
{
    public string Command => CommandNames.SetAttributes;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Write;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var request = context.Header.Deserialize(FerryJsonContext.Default.SetAttributesMessage);
        var path = RemotePath.Normalize(request.Path);
        if (request.Mode is null && request.ModifiedNs is null)
            throw new FerryException(FerryErrorCode.FieldInvalid, "setattr needs 'mode', 'mtime_ns' or both.");
        SyncFields.CheckMode(request.Mode);
        await context.Session.Store.SetAttributesAsync(path, request.Mode, request.ModifiedNs, cancellationToken).ConfigureAwait(false);
        context.Writer.WriteHeader(new OkMessage(), FerryJsonContext.Default.OkMessage);
    }
}
