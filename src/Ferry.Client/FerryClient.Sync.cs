using System.Text.Json;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Sync.Chunking;
using Ferry.Sync.Delta;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace Ferry.Client;

// The synchronization commands (docs/protocol.md §5.9) as single exchanges; Sync/RemoteTree.cs builds transfers on them
// and on the put and get pipelines.
public sealed partial class FerryClient
{
    /// <summary>The window a compressed scan page may ask for: a page of at most <see cref="ScanListMessage.MaxPageBytes"/> needs no more.</summary>
    private const int MaxScanWindowLog = 26;

    /// <summary>Largest chunk-list body accepted: the 64-bit encoding of the most chunks a list may hold, with room to spare.</summary>
    private const long MaxChunkListBytes = 128L * 1024 * 1024;

    /// <summary>Every entry below <paramref name="path"/> (§5.9.1), page by page; null when nothing is there (<c>not_found</c>).</summary>
    internal async Task<IReadOnlyList<ScanEntry>?> ScanAsync(string path, bool hashes, CancellationToken cancellationToken)
    {
        var normalized = RemotePath.Normalize(path);
        try
        {
            return await RunAsync(async ct =>
            {
                // Every server that serves scan takes the encoding field (§5.9.1); pages may still come plain.
                var encoding = ServerSupports(CommandNames.Scan) ? RangeShaping.Zstd : null;
                _writer.WriteHeader(new ScanMessage { Path = normalized, Hashes = hashes, Encoding = encoding }, FerryJsonContext.Default.ScanMessage);
                await _writer.FlushAsync(ct).ConfigureAwait(false);
                var entries = new List<ScanEntry>();
                string? problem = null;
                while (true)
                {
                    var header = await ReadReplyAsync(CommandNames.ScanList, ct).ConfigureAwait(false);
                    var page = header.Deserialize(FerryJsonContext.Default.ScanListMessage);
                    if (header.BodyLength > ScanListMessage.MaxPageBytes)
                        throw new FerryProtocolException(FerryErrorCode.BodyTooLarge, $"A scan page of '{normalized}' is {header.BodyLength} bytes, more than this client accepts.", isFatal: true);
                    if (page.Encoding is not null || header.BodyLength > 0)
                    {
                        var list = await ReadScanPageAsync(normalized, page, header.BodyLength, ct).ConfigureAwait(false);
                        foreach (var entry in list ?? [])
                        {
                            // A name must be what a plain relative path normalizes to: a server cannot point the client outside the tree.
                            if (entry.Name.Length > 0 && !IsPlainRelative(entry.Name))
                                problem ??= $"The server's scan of '{normalized}' lists an entry named '{entry.Name}', which is not a plain relative path.";
                            entries.Add(entry);
                        }
                    }
                    if (!page.More)
                        break;
                }
                if (problem is not null)
                    throw new FerryProtocolException(FerryErrorCode.PathInvalid, problem, isFatal: false);
                return (IReadOnlyList<ScanEntry>?)entries;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (FerryRemoteException ex) when (ex.Code == FerryErrorCode.NotFound && !_broken)
        {
            return null;
        }
    }

    /// <summary>
    /// One page's entries: a plain body is JSON; a zstd body is decompressed as it streams into the JSON reader, and
    /// must come to exactly its rawsize, itself at most <see cref="ScanListMessage.MaxPageBytes"/> (§5.9.1). Anything
    /// else breaks the connection. No buffer of rawsize bytes is ever made, and zstd's window is capped, so a page that
    /// lies cannot make this client hold more than the bound.
    /// </summary>
    private async Task<List<ScanEntry>?> ReadScanPageAsync(string path, ScanListMessage page, long bodyLength, CancellationToken ct)
    {
        if (page.Encoding is null)
        {
            try
            {
                return await JsonSerializer.DeserializeAsync(_reader.OpenBodyStream(), FerryJsonContext.Default.ListScanEntry, ct).ConfigureAwait(false);
            }
            catch (JsonException ex)
            {
                throw new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The server sent a scan page that is not a JSON array of entries: {ex.Message}", isFatal: true, ex);
            }
        }
        if (page.Encoding != RangeShaping.Zstd)
            throw new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The server sent a scan page of '{path}' in encoding '{page.Encoding}', which this client did not ask for.", isFatal: true);
        if (page.RawSize is not { } rawSize || rawSize <= 0 || bodyLength <= 0)
            throw new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The server sent a zstd scan page of '{path}' with rawsize {page.RawSize?.ToString() ?? "missing"} and a body of {bodyLength} bytes.", isFatal: true);
        if (rawSize > ScanListMessage.MaxPageBytes)
            throw new FerryProtocolException(FerryErrorCode.BodyTooLarge, $"The server sent a zstd scan page of '{path}' that claims {rawSize} bytes, more than the {ScanListMessage.MaxPageBytes} this client accepts.", isFatal: true);
        FerryProtocolException Lied(long actual) => new(FerryErrorCode.FieldInvalid,
            $"The server sent a zstd scan page of '{path}' that decompresses to {(actual < 0 ? "more than " + rawSize : actual)} bytes, not the {rawSize} of its rawsize.", isFatal: true);
        using var decompressor = new Decompressor();
        decompressor.SetParameter(ZSTD_dParameter.ZSTD_d_windowLogMax, MaxScanWindowLog);
        await using var unpacked = new DecompressionStream(_reader.OpenBodyStream(), decompressor, leaveOpen: false);
        await using var exact = new ExactLengthReadStream(unpacked, rawSize, Lied);
        try
        {
            var list = await JsonSerializer.DeserializeAsync(exact, FerryJsonContext.Default.ListScanEntry, ct).ConfigureAwait(false);
            // The JSON reader reads to the end; make sure the end was reached (and the whole body used).
            if (await exact.ReadAsync(new byte[1], ct).ConfigureAwait(false) != 0 || _reader.BodyRemaining != 0)
                throw Lied(-1);
            return list;
        }
        catch (Exception ex) when (ex is ZstdException or EndOfStreamException)
        {
            throw new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The server sent a scan page of '{path}' that is not valid zstd: {ex.Message}", isFatal: true, ex);
        }
        catch (JsonException ex)
        {
            throw new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The server sent a zstd scan page of '{path}' that is not a JSON array of entries: {ex.Message}", isFatal: true, ex);
        }
    }

    private static bool IsPlainRelative(string name)
    {
        try
        {
            return RemotePath.Normalize(name) == name;
        }
        catch (FerryException)
        {
            return false;
        }
    }

    /// <summary>Sets mode and/or modification time (§5.9.5).</summary>
    internal Task SetAttributesAsync(string path, int? mode, long? modifiedNs, CancellationToken cancellationToken)
    {
        if (mode is null && modifiedNs is null)
            throw new ArgumentException("Give a mode, a modification time or both.");
        var normalized = RemotePath.Normalize(path);
        return SimpleAsync(w => w.WriteHeader(new SetAttributesMessage { Path = normalized, Mode = mode, ModifiedNs = modifiedNs },
            FerryJsonContext.Default.SetAttributesMessage), cancellationToken);
    }

    /// <summary>Creates, or replaces a file or link with, a symbolic link (§5.9.5).</summary>
    internal Task CreateSymlinkAsync(string path, string target, CancellationToken cancellationToken)
    {
        var normalized = RemotePath.Normalize(path);
        return SimpleAsync(w => w.WriteHeader(new SymlinkMessage { Path = normalized, Target = target, Force = true },
            FerryJsonContext.Default.SymlinkMessage), cancellationToken);
    }

    /// <summary>A remote file's chunk list cut with <paramref name="averageSize"/> (§5.9.2), decoded and checked against its size.</summary>
    internal Task<(ChunkListMessage Message, ChunkList List)> ChunksAsync(string path, int averageSize, CancellationToken cancellationToken) => RunAsync(async ct =>
    {
        var (message, body) = await ExchangeChunksAsync(new ChunksMessage { Id = NextTransferId(), Path = path, AverageSize = averageSize }, null, ct).ConfigureAwait(false);
        // From here the stream is in step: a list that does not decode or does not add up fails this file only.
        ChunkList list;
        try
        {
            list = ChunkListCodec.Decode(body);
        }
        catch (ChunkListFormatException ex)
        {
            throw new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The chunk list of '{path}' does not decode: {ex.Message}", isFatal: false, ex);
        }
        if (list.TotalLength != message.Size || message.Size < 0)
            throw new FerryProtocolException(FerryErrorCode.FieldInvalid,
                $"The chunk list of '{path}' describes {list.TotalLength} bytes but the file has {message.Size}.", isFatal: false);
        return (message, list);
    }, cancellationToken);

    /// <summary>A remote file's group list (§5.9.6): one hash per run of about 16 chunks, checked against the file's size.</summary>
    internal Task<(ChunkListMessage Message, List<ChunkGroup> Groups)> ChunkGroupsAsync(string path, int averageSize, CancellationToken cancellationToken) => RunAsync(async ct =>
    {
        var (message, body) = await ExchangeChunksAsync(new ChunksMessage { Id = NextTransferId(), Path = path, AverageSize = averageSize, Groups = true }, null, ct).ConfigureAwait(false);
        if (message.Size < 0 || message.Groups is not { } count)
            throw new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The group list of '{path}' declares no group count or a negative size.", isFatal: false);
        try
        {
            // Chunks are at least avg/4 long, except one per 64 MiB segment and the last.
            var mostChunks = message.Size / Math.Max(1, averageSize / 4) + message.Size / Ferry.Sync.Chunking.ChunkingParameters.DefaultSegmentLength + 2;
            return (message, ChunkGroups.Decode(body, count, Math.Min(mostChunks, ChunkListLimits.Default.MaxChunks)));
        }
        catch (ChunkListFormatException ex)
        {
            throw new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The group list of '{path}' does not decode: {ex.Message}", isFatal: false, ex);
        }
    }, cancellationToken);

    /// <summary>
    /// The chunks of the groups <paramref name="picked"/> of the version of a remote file whose hash is <paramref name="hash"/>
    /// (§5.9.6), as one list of exactly <paramref name="expectedChunks"/> chunks. A file that changed since is checksum_mismatch.
    /// </summary>
    internal Task<IReadOnlyList<Chunk>> PickChunksAsync(string path, int averageSize, string hash, IReadOnlyList<int> picked, int expectedChunks, long size,
        CancellationToken cancellationToken) => RunAsync(async ct =>
    {
        var indices = ChunkGroups.EncodeIndices(picked);
        var request = new ChunksMessage { Id = NextTransferId(), Path = path, AverageSize = averageSize, Hash = hash, Pick = picked.Count, BodySize = indices.Length };
        var (_, body) = await ExchangeChunksAsync(request, indices, ct).ConfigureAwait(false);
        try
        {
            return ChunkListCodec.Decode(body, new ChunkListLimits { MaxChunks = expectedChunks, MaxTotalLength = size }).Chunks;
        }
        catch (ChunkListFormatException ex)
        {
            throw new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The picked chunks of '{path}' do not decode: {ex.Message}", isFatal: false, ex);
        }
    }, cancellationToken);

    /// <summary>One chunks request and its chunk_list reply, with its body (bounded) and a valid whole-file hash.</summary>
    private async Task<(ChunkListMessage Message, byte[] Body)> ExchangeChunksAsync(ChunksMessage request, byte[]? body, CancellationToken ct)
    {
        _writer.WriteHeader(request, FerryJsonContext.Default.ChunksMessage, body?.Length ?? 0);
        if (body is not null)
            await _writer.WriteBodyAsync(body, ct).ConfigureAwait(false);
        await _writer.FlushAsync(ct).ConfigureAwait(false);
        var header = await ReadReplyAsync(CommandNames.ChunkList, ct).ConfigureAwait(false);
        var message = header.Deserialize(FerryJsonContext.Default.ChunkListMessage);
        if (message.Id != request.Id)
            throw new FerryProtocolException(FerryErrorCode.UnexpectedFrame, $"The server answered chunks {message.Id} where {request.Id} was expected.", isFatal: true);
        if (header.BodyLength > MaxChunkListBytes)
            throw new FerryProtocolException(FerryErrorCode.BodyTooLarge, $"The chunk list of '{request.Path}' is {header.BodyLength} bytes, more than this client accepts.", isFatal: true);
        var bytes = await ReadBodyBytesAsync(header.BodyLength, ct).ConfigureAwait(false);
        if (message.Hash is not { Length: 32 } || !message.Hash.All(char.IsAsciiHexDigit))
            throw new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The chunk list of '{request.Path}' carries no valid hash.", isFatal: false);
        return (message, bytes);
    }

    /// <summary>
    /// Fetches ranges of a remote file without its hash, pipelined (up to <see cref="GetWindow"/> requests out), each written
    /// in place at its offset through <paramref name="handle"/> (§5.9.2). Returns the body bytes received; a local write
    /// failure is thrown once the replies are in (the connection stays usable). With <paramref name="assembly"/>, the
    /// copies before each range are made as the replies come, so the file is written in order, and with
    /// <paramref name="hash"/> what is written is hashed on the way.
    /// </summary>
    internal async Task<long> FetchRangesAsync(string remotePath, IReadOnlyList<(long Offset, long Length)> ranges, Microsoft.Win32.SafeHandles.SafeFileHandle handle,
        RangeShaping shaping, Action<long>? received, CancellationToken cancellationToken, DeltaAssembly? assembly = null, AssemblyHash? hash = null)
    {
        if (ranges.Count == 0)
            return 0;
        EnsureUsable();
        var ids = ranges.Select(_ => NextTransferId()).ToList();
        using var window = new SemaphoreSlim(GetWindow, GetWindow);
        var wire = 0L;
        Exception? localError = null;
        await RunDuplexAsync(async ct =>
        {
            for (var i = 0; i < ranges.Count; i++)
            {
                if (!window.Wait(0, CancellationToken.None))
                {
                    await _writer.FlushAsync(ct).ConfigureAwait(false);
                    await window.WaitAsync(ct).ConfigureAwait(false);
                }
                _writer.WriteHeader(new GetMessage
                {
                    Id = ids[i],
                    Path = remotePath,
                    Offset = ranges[i].Offset,
                    Length = ranges[i].Length,
                    NoHash = true,
                    Encoding = shaping.Compress ? RangeShaping.Zstd : null,
                }, FerryJsonContext.Default.GetMessage);
            }
            await _writer.FlushAsync(ct).ConfigureAwait(false);
        }, async ct =>
        {
            for (var i = 0; i < ranges.Count; i++)
            {
                var (offset, length) = ranges[i];
                if (assembly is not null && localError is null)
                {
                    try
                    {
                        await assembly.AdvanceAsync(ct).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        localError = ex; // the replies still come and are read, the connection stays in step
                    }
                }
                try
                {
                    var got = await ReceiveRangeAsync(ids[i], remotePath, offset, length,
                        (_, _) => ValueTask.FromResult(new FileSink(handle, offset, hash is null ? null : new AssemblyHashFeed(hash, offset, handle))),
                        received, shaping, ct).ConfigureAwait(false);
                    wire += got.WireBytes;
                    localError ??= got.LocalError;
                    if (got.RawBytes != length)
                        localError ??= new FerryException(FerryErrorCode.ChecksumMismatch, $"'{remotePath}' changed on the server during the transfer.");
                    else
                        assembly?.Received(offset, length);
                }
                catch (FerryRemoteException ex) when (!_broken)
                {
                    // The file went away (or became unreadable) between requests: its other replies still come, in order.
                    localError ??= ex;
                }
                window.Release();
            }
        }, cancellationToken).ConfigureAwait(false);
        if (localError is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(localError);
        return wire;
    }
}
