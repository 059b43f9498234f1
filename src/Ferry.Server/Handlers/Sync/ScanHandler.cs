using System.Text.Json;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Handlers.Sync;

/// <summary>
/// Lists a tree for synchronization in pages of scan entries (docs/protocol.md §5.9.1). Pages go out while the tree is
/// walked, so the server holds one page, not the tree; a page is sent once the next entry is known to exist, so the last
/// one can say <c>more:false</c>.
/// </summary>
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
        var page = new List<ScanEntry>(EntriesPerPage);
        try
        {
            await store.ScanAsync(path, MaxEntries,
                cache is null ? null : async (file, ct) => SyncDigests.Hex((await digests.DigestAsync(cache, file, null, ct).ConfigureAwait(false)).ContentHash),
                async entry =>
                {
                    if (page.Count == EntriesPerPage)
                    {
                        await SendPageAsync(context, path, page, more: true, cancellationToken).ConfigureAwait(false);
                        page.Clear();
                    }
                    page.Add(entry);
                },
                cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (cache is not null)
                await digests.SaveAsync(cache, cancellationToken).ConfigureAwait(false);
        }
        await SendPageAsync(context, path, page, more: false, cancellationToken).ConfigureAwait(false);
    }

    private static async ValueTask SendPageAsync(CommandContext context, string path, List<ScanEntry> page, bool more, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(page, FerryJsonContext.Default.ListScanEntry);
        context.Writer.WriteHeader(new ScanListMessage { Path = path, Count = page.Count, More = more, BodySize = body.Length },
            FerryJsonContext.Default.ScanListMessage, body.Length);
        context.Writer.WriteBody(body);
        await context.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
