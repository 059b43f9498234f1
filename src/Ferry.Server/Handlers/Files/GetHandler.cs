using System.Buffers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Diagnostics;
using Ferry.Server.Storage;
using Ferry.Server.Transfer;

namespace Ferry.Server.Handlers.Files;

/// <summary>Sends a file from an offset (docs/protocol.md §5.3), then its whole-file checksum.</summary>
internal sealed class GetHandler(FerryMetrics metrics) : ICommandHandler
{
    private const int CopyChunk = 1024 * 1024;
    private const long ZeroCopyThreshold = 256 * 1024;

    public string Command => CommandNames.Get;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Read;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var get = context.Header.Deserialize(FerryJsonContext.Default.GetMessage);
        var path = RemotePath.Normalize(get.Path);
        var checksum = ChecksumAlgorithm.FromName(get.Checksum);
        await using var file = await context.Session.Store.OpenReadAsync(path, cancellationToken).ConfigureAwait(false);
        if (get.Offset < 0 || get.Offset > file.Length)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"Offset {get.Offset} is outside '{path}' (0 to {file.Length}).");
        if (get.Length is < 0)
            throw new FerryException(FerryErrorCode.FieldInvalid, "'length' must not be negative.");

        if (get.Encoding is not null && get.Encoding != Sync.CompressedData.Zstd)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"Unknown get encoding '{get.Encoding}'; the server knows 'zstd'.");
        var count = Math.Min(file.Length - get.Offset, get.Length ?? long.MaxValue);
        metrics.TransferStarted(upload: false);
        var finished = false;
        try
        {
            await SendAsync(context, get, path, checksum, file, count, cancellationToken).ConfigureAwait(false);
            finished = true;
        }
        finally
        {
            if (finished)
                metrics.TransferFinished(upload: false);
            else
                metrics.TransferFailed(upload: false);
        }
    }

    private async ValueTask SendAsync(CommandContext context, GetMessage get, string path, ChecksumAlgorithm checksum, IStoredFile file, long count,
        CancellationToken cancellationToken)
    {
        if (get.Encoding is not null)
        {
            await SendCompressedAsync(context, get, path, checksum, file, count, cancellationToken).ConfigureAwait(false);
            return;
        }
        var writer = context.Writer;
        writer.WriteHeader(new FileDataMessage
        {
            Id = get.Id,
            Path = path,
            Size = file.Length,
            Offset = get.Offset,
            ModifiedUnixSeconds = file.ModifiedTime.ToUnixTimeSeconds(),
            BodySize = count,
        }, FerryJsonContext.Default.FileDataMessage, count);

        var hashing = WholeFileHash(get, file, checksum, cancellationToken);
        try
        {
            if (file is ILocalFileAccess { Handle: var handle } && ZeroCopySender.IsSupported && context.Connection.CanSendFile && !writer.MacEnabled && count >= ZeroCopyThreshold)
            {
                await context.FlushAsync(cancellationToken).ConfigureAwait(false);
                await ZeroCopySender.SendAsync(context.Connection.Socket, handle, get.Offset, count, progress: null, cancellationToken).ConfigureAwait(false);
                metrics.Sent(count); // straight to the socket, past the metered stream
                writer.BodyWrittenExternally(count);
            }
            else
            {
                await CopyThroughPipeAsync(context, file, get.Offset, count, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The header promised 'count' bytes: once the body is cut short the connection cannot continue.
            context.Connection.Abort("a file could not be sent completely");
            await ((Task)hashing).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw new IOException($"Sending '{path}' failed: {ex.Message}", ex);
        }

        var hash = await hashing.ConfigureAwait(false);
        writer.WriteHeader(new TransferDoneMessage
        {
            Id = get.Id,
            Path = path,
            Size = file.Length,
            Checksum = get.NoHash ? null : checksum.Name,
            Hash = get.NoHash ? null : Convert.ToHexStringLower(hash),
        }, FerryJsonContext.Default.TransferDoneMessage);
    }

    /// <summary>
    /// The whole-file checksum for done: none when the client asked for none, the one recorded at commit where the store
    /// keeps it, or else computed off the send path, in parallel with it.
    /// </summary>
    private static Task<byte[]> WholeFileHash(GetMessage get, IStoredFile file, ChecksumAlgorithm checksum, CancellationToken cancellationToken)
    {
        if (get.NoHash)
            return Task.FromResult<byte[]>([]);
        if (file is IRecordedChecksum recorded && recorded.RecordedHash(checksum) is { } hash)
            return Task.FromResult(hash);
        return Task.Run(() => FileHashing.HashAsync(file, 0, file.Length, checksum, cancellationToken).AsTask(), cancellationToken);
    }

    /// <summary>
    /// §5.9.4: the range in blocks of up to 4 MiB, each its own file frame, compressed when that makes it smaller (else
    /// raw, without encoding), then done with the whole-file hash.
    /// </summary>
    private async ValueTask SendCompressedAsync(CommandContext context, GetMessage get, string path, ChecksumAlgorithm checksum, IStoredFile file, long count,
        CancellationToken cancellationToken)
    {
        var hashing = WholeFileHash(get, file, checksum, cancellationToken);
        var raw = ArrayPool<byte>.Shared.Rent(Sync.CompressedData.GetBlockSize);
        var packed = ArrayPool<byte>.Shared.Rent(Sync.CompressedData.GetBlockSize);
        try
        {
            using var compressor = new ZstdSharp.Compressor(level: 3);
            var position = get.Offset;
            var end = get.Offset + count;
            do
            {
                var block = (int)Math.Min(Sync.CompressedData.GetBlockSize, end - position);
                var filled = 0;
                while (filled < block)
                {
                    var n = await file.ReadAsync(raw.AsMemory(filled, block - filled), position + filled, cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                        throw new FerryException(FerryErrorCode.IoError, $"'{path}' ended {block - filled} bytes early.");
                    filled += n;
                }
                var compressed = Sync.CompressedData.TryCompress(compressor, raw.AsSpan(0, block), packed);
                var body = compressed > 0 ? packed.AsSpan(0, compressed) : raw.AsSpan(0, block);
                context.Writer.WriteHeader(new FileDataMessage
                {
                    Id = get.Id,
                    Path = path,
                    Size = file.Length,
                    Offset = position,
                    ModifiedUnixSeconds = file.ModifiedTime.ToUnixTimeSeconds(),
                    BodySize = body.Length,
                    Encoding = compressed > 0 ? Sync.CompressedData.Zstd : null,
                    RawSize = compressed > 0 ? block : null,
                }, FerryJsonContext.Default.FileDataMessage, body.Length);
                context.Writer.WriteBody(body);
                await context.FlushAsync(cancellationToken).ConfigureAwait(false);
                position += block;
            }
            while (position < end);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
            ArrayPool<byte>.Shared.Return(packed);
            await ((Task)hashing).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        var hash = await hashing.ConfigureAwait(false);
        context.Writer.WriteHeader(new TransferDoneMessage
        {
            Id = get.Id,
            Path = path,
            Size = file.Length,
            Checksum = get.NoHash ? null : checksum.Name,
            Hash = get.NoHash ? null : Convert.ToHexStringLower(hash),
        }, FerryJsonContext.Default.TransferDoneMessage);
    }

    private static async ValueTask CopyThroughPipeAsync(CommandContext context, IStoredFile file, long offset, long count, CancellationToken cancellationToken)
    {
        var writer = context.Writer;
        var position = offset;
        var end = offset + count;
        while (position < end)
        {
            var memory = writer.GetBodyMemory((int)Math.Min(CopyChunk, end - position));
            var n = await file.ReadAsync(memory, position, cancellationToken).ConfigureAwait(false);
            if (n == 0)
                throw new IOException($"The file ended {end - position} bytes early.");
            writer.AdvanceBody(n);
            position += n;
            await context.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>Per-chunk hashes of a prefix of a file, so a client can check its partial download (§5.3).</summary>
internal sealed class HashesHandler : ICommandHandler
{
    public const int MaxChunks = 1 << 20;

    public string Command => CommandNames.Hashes;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Read;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var request = context.Header.Deserialize(FerryJsonContext.Default.HashesMessage);
        var path = RemotePath.Normalize(request.Path);
        var checksum = ChecksumAlgorithm.FromName(request.Checksum);
        if (request.ChunkSize < 4096)
            throw new FerryException(FerryErrorCode.FieldInvalid, "'chunk_size' must be at least 4096.");
        if (request.Length < 0)
            throw new FerryException(FerryErrorCode.FieldInvalid, "'length' must not be negative.");

        await using var file = await context.Session.Store.OpenReadAsync(path, cancellationToken).ConfigureAwait(false);
        var length = Math.Min(request.Length, file.Length);
        var chunks = length / request.ChunkSize; // whole chunks only
        if (chunks > MaxChunks)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"At most {MaxChunks} chunk hashes per request; use larger chunks.");
        var hashes = await ChunkHashes.ComputeAsync(file.ReadAsync, chunks * request.ChunkSize, request.ChunkSize, checksum, whole: null, cancellationToken)
            .ConfigureAwait(false);

        context.Writer.WriteHeader(new HashListMessage { Size = file.Length, ChunkSize = request.ChunkSize, BodySize = hashes.Length },
            FerryJsonContext.Default.HashListMessage, hashes.Length);
        context.Writer.WriteBody(hashes);
    }
}

internal static class FileHashing
{
    public static ValueTask<byte[]> HashAsync(IStoredFile file, long offset, long count, ChecksumAlgorithm algorithm, CancellationToken cancellationToken) =>
        algorithm.HashAsync(file.ReadAsync, offset, count, cancellationToken);
}
