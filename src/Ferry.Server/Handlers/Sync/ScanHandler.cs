using System.Buffers;
using System.Text.Json;
using Ferry.Protocol.Errors;
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

    /// <summary>zstd level of compressed pages: fast, since pages go out while the tree is walked.</summary>
    private const int CompressionLevel = 3;

    public string Command => CommandNames.Scan;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Read;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var request = context.Header.Deserialize(FerryJsonContext.Default.ScanMessage);
        var path = RemotePath.Normalize(request.Path ?? "");
        var store = context.Session.Store;
        var cache = request.Hashes ? await digests.ForAsync(store, cancellationToken).ConfigureAwait(false) : null;
        if (request.Encoding is not null && request.Encoding != CompressedData.Zstd)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"Unknown scan encoding '{request.Encoding}'; only '{CompressedData.Zstd}' is served.");
        // One compressor for the whole scan, fast level as for compressed gets (§5.9.4).
        using var compressor = request.Encoding is null ? null : new ZstdSharp.Compressor(level: CompressionLevel);
        var page = new List<ScanEntry>(EntriesPerPage);
        try
        {
            await store.ScanAsync(path, MaxEntries,
                cache is null ? null : async (file, ct) => SyncDigests.Hex((await digests.DigestAsync(cache, file, null, ct).ConfigureAwait(false)).ContentHash),
                async entry =>
                {
                    if (page.Count == EntriesPerPage)
                    {
                        await SendPageAsync(context, compressor, path, page, more: true, cancellationToken).ConfigureAwait(false);
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
        await SendPageAsync(context, compressor, path, page, more: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends one page: with a <paramref name="compressor"/>, as one zstd frame of the JSON with its length as rawsize,
    /// unless that does not make it smaller (or the JSON is above what a client accepts): then as plain JSON (§5.9.1).
    /// </summary>
    private static async ValueTask SendPageAsync(CommandContext context, ZstdSharp.Compressor? compressor, string path, List<ScanEntry> page, bool more,
        CancellationToken cancellationToken)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(page, FerryJsonContext.Default.ListScanEntry);
        byte[]? packed = compressor is not null && json.Length <= ScanListMessage.MaxPageBytes
            ? ArrayPool<byte>.Shared.Rent(json.Length)
            : null;
        try
        {
            var compressed = packed is null ? 0 : CompressedData.TryCompress(compressor!, json, packed);
            ReadOnlyMemory<byte> body = compressed > 0 ? packed.AsMemory(0, compressed) : json;
            context.Writer.WriteHeader(new ScanListMessage
            {
                Path = path,
                Count = page.Count,
                More = more,
                BodySize = body.Length,
                Encoding = compressed > 0 ? CompressedData.Zstd : null,
                RawSize = compressed > 0 ? json.Length : null,
            }, FerryJsonContext.Default.ScanListMessage, body.Length);
            context.Writer.WriteBody(body.Span);
            await context.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (packed is not null)
                ArrayPool<byte>.Shared.Return(packed);
        }
    }
}
