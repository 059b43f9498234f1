using System.Buffers;
using System.Diagnostics;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Client;

// A put refused with already_exists (no --force) is checked against the server's copy: when that copy is byte for byte
// the local file (same size, every chunk hash equal), the put has nothing to do and counts as done. This is what makes
// re-running a put whose first run completed (for example just before a crash, before the client heard the answer)
// succeed instead of failing.
public sealed partial class FerryClient
{
    /// <summary>Chunk size used to compare a local file with the server's copy.</summary>
    private const int CompareChunkSize = ResumeChunkSize;

    /// <summary>
    /// For each item refused with already_exists: asks the server for its copy's chunk hashes and compares them with the
    /// local file's. Identical → completed as <see cref="TransferResult.AlreadyUpToDate"/> with nothing sent; otherwise
    /// (or when the comparison fails) the original already_exists is reported.
    /// </summary>
    private async Task SettleExistingAsync(List<PutItem> items, PutOptions options, TransferObserver observer, CancellationToken cancellationToken)
    {
        foreach (var item in items)
        {
            var refusal = item.Existing!;
            item.Existing = null;
            TransferResult? same = null;
            try
            {
                same = await CompareWithRemoteAsync(item, options.Checksum, cancellationToken).ConfigureAwait(false);
            }
            catch (FerryRemoteException) when (!_broken)
            {
                // Not a file the server can hash (a directory, gone meanwhile): the refusal stands.
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException && !_broken)
            {
                // The local file could not be read for the comparison: the refusal stands.
            }
            if (same is null)
            {
                Fail(item, refusal, observer);
                continue;
            }
            item.Result = same;
            observer.OnCompleted(item.File, same);
        }
    }

    /// <summary>
    /// The server's copy is compared in two parts: the hashes of its whole 4 MiB chunks (one <c>hashes</c> request, which
    /// also gives its size), and the bytes of the last, partial chunk (a ranged <c>get</c> of under 4 MiB), since a
    /// server hashes whole chunks only. Returns the result for an identical file, null for a different one.
    /// </summary>
    private async Task<TransferResult?> CompareWithRemoteAsync(PutItem item, ChecksumAlgorithm checksum, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var h = checksum.HashBytes;
        var wholeChunks = item.Size / CompareChunkSize;
        var tailStart = wholeChunks * CompareChunkSize;
        var tailLength = (int)(item.Size - tailStart);
        var (size, remoteHashes) = await RunAsync(async ct =>
        {
            _writer.WriteHeader(new HashesMessage { Path = item.RemotePath, Checksum = checksum.Name, ChunkSize = CompareChunkSize, Length = item.Size },
                FerryJsonContext.Default.HashesMessage);
            await _writer.FlushAsync(ct).ConfigureAwait(false);
            var header = await ReadReplyAsync(CommandNames.HashList, ct).ConfigureAwait(false);
            var list = header.Deserialize(FerryJsonContext.Default.HashListMessage);
            if (list.ChunkSize != CompareChunkSize || header.BodyLength != wholeChunks * h)
                return (-1L, Array.Empty<byte>()); // an answer that cannot be compared (the reader skips its body)
            return (list.Size, await ReadBodyBytesAsync(header.BodyLength, ct).ConfigureAwait(false));
        }, cancellationToken).ConfigureAwait(false);
        if (size != item.Size)
            return null;
        var remoteTail = tailLength == 0 ? [] : await ReadRemoteRangeAsync(item.RemotePath, tailStart, tailLength, checksum, cancellationToken).ConfigureAwait(false);
        if (remoteTail is null)
            return null;

        using var handle = File.OpenHandle(item.File.LocalPath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        if (RandomAccess.GetLength(handle) != item.Size)
            return null; // the local file changed meanwhile
        using var whole = checksum.CreateHasher();
        var localHashes = await ChunkHashes.ComputeAsync((buffer, position, ct) => RandomAccess.ReadAsync(handle, buffer, position, ct),
            tailStart, CompareChunkSize, checksum, whole, cancellationToken).ConfigureAwait(false);
        if (!localHashes.AsSpan().SequenceEqual(remoteHashes))
            return null;
        var localTail = new byte[tailLength];
        if (await LocalFiles.ReadFullyAsync(handle, localTail, tailStart, cancellationToken).ConfigureAwait(false) != tailLength
            || !localTail.AsSpan().SequenceEqual(remoteTail))
            return null; // different, or the local file shrank meanwhile
        whole.Append(localTail);
        return new TransferResult
        {
            LocalPath = item.File.LocalPath,
            RemotePath = item.RemotePath,
            Bytes = item.Size,
            BytesTransferred = 0,
            Elapsed = Stopwatch.GetElapsedTime(started),
            Checksum = checksum.Name,
            Hash = Convert.ToHexStringLower(whole.GetHashAndReset()),
            AlreadyUpToDate = true,
        };
    }

    /// <summary>Reads <paramref name="length"/> bytes of a remote file from <paramref name="offset"/> (a ranged get without the whole-file hash); null if the server sends another length.</summary>
    private Task<byte[]?> ReadRemoteRangeAsync(string path, long offset, int length, ChecksumAlgorithm checksum, CancellationToken cancellationToken) => RunAsync(async ct =>
    {
        var id = NextTransferId();
        _writer.WriteHeader(new GetMessage { Id = id, Path = path, Offset = offset, Length = length, Checksum = checksum.Name, NoHash = true },
            FerryJsonContext.Default.GetMessage);
        await _writer.FlushAsync(ct).ConfigureAwait(false);
        var header = await ReadReplyAsync(CommandNames.FileData, ct).ConfigureAwait(false);
        var file = header.Deserialize(FerryJsonContext.Default.FileDataMessage);
        byte[]? bytes = null;
        if (file.Id == id && header.BodyLength == length)
            bytes = await ReadBodyBytesAsync(length, ct).ConfigureAwait(false);
        else
        {
            await _reader.SkipBodyAsync(ct).ConfigureAwait(false);
        }
        await ReadReplyAsync(CommandNames.Done, ct).ConfigureAwait(false);
        return bytes;
    }, cancellationToken);
}
