using System.Text.Json;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Handlers.Sync;

/// <summary>Lists a tree for synchronization in pages of scan entries (docs/protocol.md §5.9.1).</summary>
internal sealed class ScanHandler(SyncDigests digests) : ICommandHandler
{
    public const int EntriesPerPage = 10_000;

    /// <summary>A larger tree is refused: the client syncs smaller parts.</summary>
    public const int MaxEntries = 1_000_000;

    public string Command => CommandNames.Scan;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Read;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var request = context.Header.Deserialize(FerryJsonContext.Default.ScanMessage);
        var path = RemotePath.Normalize(request.Path ?? "");
        var store = context.Session.Store;
        var cache = request.Hashes ? await digests.ForAsync(store, cancellationToken).ConfigureAwait(false) : null;
        var entries = await store.ScanAsync(path, MaxEntries,
            cache is null ? null : async (file, ct) => SyncDigests.Hex((await digests.DigestAsync(cache, file, null, ct).ConfigureAwait(false)).ContentHash),
            cancellationToken).ConfigureAwait(false);
        if (cache is not null)
            await digests.SaveAsync(cache, cancellationToken).ConfigureAwait(false);

        var sent = 0;
        do
        {
            var count = Math.Min(EntriesPerPage, entries.Count - sent);
            var page = new List<ScanEntry>(count);
            for (var i = 0; i < count; i++)
                page.Add(entries[sent + i]);
            sent += count;
            var body = JsonSerializer.SerializeToUtf8Bytes(page, FerryJsonContext.Default.ListScanEntry);
            context.Writer.WriteHeader(new ScanListMessage { Path = path, Count = count, More = sent < entries.Count, BodySize = body.Length },
                FerryJsonContext.Default.ScanListMessage, body.Length);
            context.Writer.WriteBody(body);
            await context.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        while (sent < entries.Count);
    }
}
