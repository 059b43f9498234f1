using System.Text.Json;
using Ferry.Protocol.Errors;
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
        var body = JsonSerializer.SerializeToUtf8Bytes(entries.ToList(), FerryJsonContext.Default.ListFileEntry);
        context.Writer.WriteHeader(new ListingMessage { Path = path, Count = entries.Count, BodySize = body.Length },
            FerryJsonContext.Default.ListingMessage, body.Length);
        context.Writer.WriteBody(body);
    }
}

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
        context.Writer.WriteHeader(new StatResultMessage { Path = path, Entry = entry }, FerryJsonContext.Default.StatResultMessage);
    }
}

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
