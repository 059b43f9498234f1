using System.Buffers;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Client;

// Parallel streams (docs/protocol.md §5.2.1, §5.3): one large file split into ranges, each range on its own connection,
// written in place into the one temporary file, with a single whole-file check at the end. This pays off where one TCP
// stream cannot fill the path (long fat networks); on loopback both ends share the same cores (docs/benchmarks.md).
public sealed partial class FerryClient
{
    /// <summary>Ranges are cut on this boundary.</summary>
    private const long StreamAlignment = 1024 * 1024;

    /// <summary>Uploads one file over <paramref name="streams"/> connections (this one and streams−1 new ones).</summary>
    public async Task<TransferResult> PutFileParallelAsync(string localPath, string remotePath, int streams, PutOptions? options = null,
        TransferObserver? observer = null, CancellationToken cancellationToken = default)
    {
        options ??= new PutOptions();
        observer ??= TransferObserver.None;
        var file = new FileTransfer(localPath, remotePath);
        var path = RemotePath.Normalize(remotePath);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var handle = File.OpenHandle(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        var size = RandomAccess.GetLength(handle);
        var checksum = options.Checksum;
        const long id = 1;

        _writer.WriteHeader(new PutMessage
        {
            Id = id,
            Path = path,
            Size = size,
            Checksum = checksum.Name,
            Force = options.Force,
            Shared = true,
            ModifiedUnixSeconds = new DateTimeOffset(File.GetLastWriteTimeUtc(localPath)).ToUnixTimeSeconds(),
        }, FerryJsonContext.Default.PutMessage);
        await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        var readyHeader = await ReadReplyHeaderAsync(CommandNames.PutReady, cancellationToken).ConfigureAwait(false);
        var ready = readyHeader.Deserialize(FerryJsonContext.Default.PutReadyMessage);
        await _reader.SkipBodyAsync(cancellationToken).ConfigureAwait(false);
        var token = ready.Token ?? throw new FerryProtocolException(FerryErrorCode.FieldInvalid, "The server gave no token for a shared upload.", isFatal: true);
        observer.OnStarted(file, size, 0);

        var ranges = Ranges(size, streams);
        var done = 0L;
        var progress = new Progress<long>(n => observer.OnProgress(file, Interlocked.Add(ref done, n)));
        // The whole-file hash is computed alongside, from the local file.
        var hashing = Task.Run(() => HashLocalAsync(handle, size, checksum, cancellationToken), cancellationToken);
        var helpers = new List<FerryClient>();
        try
        {
            for (var i = 1; i < ranges.Count; i++)
                helpers.Add(await ConnectAsync(Address, Options, cancellationToken).ConfigureAwait(false));
            var sends = new List<Task> { SendRangeOnAsync(this, id, handle, ranges[0], progress, cancellationToken) };
            for (var i = 1; i < ranges.Count; i++)
            {
                var helper = helpers[i - 1];
                var range = ranges[i];
                sends.Add(Task.Run(async () =>
                {
                    helper._writer.WriteHeader(new PutJoinMessage { Id = id, Token = token }, FerryJsonContext.Default.PutJoinMessage);
                    await helper._writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                    await helper.ReadReplyHeaderAsync(CommandNames.PutReady, cancellationToken).ConfigureAwait(false);
                    await SendRangeOnAsync(helper, id, handle, range, progress, cancellationToken).ConfigureAwait(false);
                    helper._writer.WriteHeader(new PutEndMessage { Id = id, Part = true }, FerryJsonContext.Default.PutEndMessage);
                    await helper._writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                    await helper.ReadReplyHeaderAsync(CommandNames.Done, cancellationToken).ConfigureAwait(false);
                }, cancellationToken));
            }
            await Task.WhenAll(sends).ConfigureAwait(false);
            var hash = Convert.ToHexStringLower(await hashing.ConfigureAwait(false));

            _writer.WriteHeader(new PutEndMessage { Id = id, Hash = hash }, FerryJsonContext.Default.PutEndMessage);
            await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            var reply = await ReadReplyAsync(CommandNames.Done, FerryJsonContext.Default.TransferDoneMessage, cancellationToken).ConfigureAwait(false);
            if (!string.Equals(reply.Hash, hash, StringComparison.OrdinalIgnoreCase))
                throw new FerryException(FerryErrorCode.ChecksumMismatch, $"The server stored '{path}' with checksum {reply.Hash}, not {hash}.");
            var result = new TransferResult
            {
                LocalPath = localPath,
                RemotePath = path,
                Bytes = size,
                BytesTransferred = size,
                Elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started),
                Checksum = checksum.Name,
                Hash = hash,
            };
            observer.OnCompleted(file, result);
            return result;
        }
        catch (Exception ex)
        {
            observer.OnFailed(file, ex);
            throw;
        }
        finally
        {
            foreach (var helper in helpers)
                await helper.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Downloads one file over <paramref name="streams"/> connections into a temporary file, checked and renamed at the end.</summary>
    public async Task<TransferResult> GetFileParallelAsync(string remotePath, string localPath, int streams, GetOptions? options = null,
        TransferObserver? observer = null, CancellationToken cancellationToken = default)
    {
        options ??= new GetOptions();
        observer ??= TransferObserver.None;
        var file = new FileTransfer(localPath, remotePath);
        var path = RemotePath.Normalize(remotePath);
        if (File.Exists(localPath) && !options.Force)
            throw new FerryException(FerryErrorCode.AlreadyExists, $"'{localPath}' already exists; use --force to replace it.");
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var entry = await StatAsync(path, cancellationToken).ConfigureAwait(false);
        if (entry.Type != "file")
            throw new FerryException(FerryErrorCode.IsADirectory, $"'{path}' is not a file.");
        var size = entry.Size;
        var checksum = options.Checksum;
        var partPath = LocalFiles.PartPathFor(localPath);
        var ranges = Ranges(size, streams);
        var helpers = new List<FerryClient>();
        var done = 0L;
        var progress = new Progress<long>(n => observer.OnProgress(file, Interlocked.Add(ref done, n)));
        observer.OnStarted(file, size, 0);
        var ownPart = false; // a file found at the part name that is not ours (a planted link) is never deleted
        try
        {
            string? serverHash = null;
            using (var handle = PartFile.OpenForWriting(partPath)) // never through a link planted at the part file's name
            {
                ownPart = true;
                RandomAccess.SetLength(handle, 0);
                for (var i = 1; i < ranges.Count; i++)
                    helpers.Add(await ConnectAsync(Address, Options, cancellationToken).ConfigureAwait(false));
                var receives = new List<Task<string?>> { ReceiveRangeAsync(this, path, ranges[0], wholeHash: true, checksum, handle, progress, cancellationToken) };
                for (var i = 1; i < ranges.Count; i++)
                {
                    var helper = helpers[i - 1];
                    var range = ranges[i];
                    receives.Add(Task.Run(() => ReceiveRangeAsync(helper, path, range, wholeHash: false, checksum, handle, progress, cancellationToken), cancellationToken));
                }
                var hashes = await Task.WhenAll(receives).ConfigureAwait(false);
                serverHash = hashes[0];
                var localHash = Convert.ToHexStringLower(await HashLocalAsync(handle, size, checksum, cancellationToken).ConfigureAwait(false));
                if (!string.Equals(serverHash, localHash, StringComparison.OrdinalIgnoreCase))
                    throw new FerryException(FerryErrorCode.ChecksumMismatch, $"The data received for '{path}' does not match the server's checksum; nothing was kept.");
                using (var stream = new FileStream(handle, FileAccess.ReadWrite, bufferSize: 0, handle.IsAsync))
                    stream.Flush(flushToDisk: true);
            }
            File.Move(partPath, localPath, overwrite: options.Force);
            File.SetLastWriteTimeUtc(localPath, DateTimeOffset.FromUnixTimeSeconds(entry.ModifiedUnixSeconds).UtcDateTime);
            var result = new TransferResult
            {
                LocalPath = localPath,
                RemotePath = path,
                Bytes = size,
                BytesTransferred = size,
                Elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started),
                Checksum = checksum.Name,
                Hash = serverHash!,
            };
            observer.OnCompleted(file, result);
            return result;
        }
        catch (Exception ex)
        {
            if (ownPart)
            {
                try { File.Delete(partPath); } catch (IOException) { }
            }
            observer.OnFailed(file, ex);
            throw;
        }
        finally
        {
            foreach (var helper in helpers)
                await helper.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Cuts [0, size) into up to <paramref name="streams"/> ranges on 1 MiB boundaries (at least one).</summary>
    internal static List<(long Offset, long Length)> Ranges(long size, int streams)
    {
        streams = Math.Clamp(streams, 1, 64);
        var step = Math.Max(StreamAlignment, (size / streams + StreamAlignment - 1) / StreamAlignment * StreamAlignment);
        var ranges = new List<(long, long)>();
        for (long offset = 0; offset < size || ranges.Count == 0; offset += step)
            ranges.Add((offset, Math.Min(step, size - offset)));
        return ranges;
    }

    private static async Task SendRangeOnAsync(FerryClient client, long id, SafeFileHandle handle, (long Offset, long Length) range,
        IProgress<long> progress, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(IoBlockSize);
        try
        {
            var position = range.Offset;
            var end = range.Offset + range.Length;
            while (position < end)
            {
                var frame = Math.Min(PutDataFrameBytes, end - position);
                client._writer.WriteHeader(new PutDataMessage { Id = id, Offset = position, BodySize = frame }, FerryJsonContext.Default.PutDataMessage, frame);
                var frameEnd = position + frame;
                while (position < frameEnd)
                {
                    var n = await RandomAccess.ReadAsync(handle, buffer.AsMemory(0, (int)Math.Min(buffer.Length, frameEnd - position)), position, cancellationToken)
                        .ConfigureAwait(false);
                    if (n == 0)
                        throw new IOException("The local file shrank while it was being sent.");
                    await client._writer.WriteBodyAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    position += n;
                    progress.Report(n);
                }
            }
            await client._writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <returns>The server's whole-file hash when <paramref name="wholeHash"/>, else null.</returns>
    private static async Task<string?> ReceiveRangeAsync(FerryClient client, string path, (long Offset, long Length) range, bool wholeHash,
        ChecksumAlgorithm checksum, SafeFileHandle handle, IProgress<long> progress, CancellationToken cancellationToken)
    {
        client._writer.WriteHeader(new GetMessage { Id = 1, Path = path, Offset = range.Offset, Length = range.Length, Checksum = checksum.Name, NoHash = !wholeHash },
            FerryJsonContext.Default.GetMessage);
        await client._writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        var header = await client.ReadReplyHeaderAsync(CommandNames.FileData, cancellationToken).ConfigureAwait(false);
        if (header.BodyLength != range.Length)
            throw new FerryProtocolException(FerryErrorCode.UnexpectedFrame, $"Asked for {range.Length} bytes of '{path}', got {header.BodyLength}.", isFatal: true);
        var position = range.Offset;
        while (client._reader.BodyRemaining > 0)
        {
            var chunk = await client._reader.ReadBodyChunkAsync(IoBlockSize, cancellationToken).ConfigureAwait(false);
            var buffers = new List<ReadOnlyMemory<byte>>();
            foreach (var segment in chunk)
                buffers.Add(segment);
            await RandomAccess.WriteAsync(handle, buffers, position, cancellationToken).ConfigureAwait(false);
            position += chunk.Length;
            client._reader.AdvanceBody(chunk, chunk.Length);
            progress.Report(chunk.Length);
        }
        var done = await client.ReadReplyAsync(CommandNames.Done, FerryJsonContext.Default.TransferDoneMessage, cancellationToken).ConfigureAwait(false);
        return done.Hash;
    }

    private static async Task<byte[]> HashLocalAsync(SafeFileHandle handle, long size, ChecksumAlgorithm checksum, CancellationToken cancellationToken) =>
        await checksum.HashAsync((buffer, position, ct) => RandomAccess.ReadAsync(handle, buffer, position, ct), 0, size, cancellationToken)
            .ConfigureAwait(false);
}
