using System.Buffers;
using System.Diagnostics;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Client;

// Uploads (docs/protocol.md §5.2): put → put_ready (+ chunk hashes when resuming) → put_data… → put_end → done.
public sealed partial class FerryClient
{
    /// <summary>Files whose <c>put</c> frames are sent before their data (§5.2 "Pipelining many small files").</summary>
    public const int PutBatchSize = 256;

    /// <summary>Bytes read from disk, hashed and written to the socket per step.</summary>
    internal const int IoBlockSize = 1024 * 1024;

    /// <summary>
    /// Largest put_data body. Several frames per file cost a header each (~60 bytes per 16 MiB) and bound what a server
    /// that keeps only whole frames would lose on a broken connection.
    /// </summary>
    internal const long PutDataFrameBytes = 16L * 1024 * 1024;

    /// <summary>Resume chunk sizes a server may use; outside them put_ready is treated as malformed (tiny chunks would make the hash list huge).</summary>
    private const int MinChunkSize = 4096, MaxChunkSize = 1024 * 1024 * 1024;

    /// <summary>
    /// Uploads one file to <paramref name="remotePath"/> (the full remote name, not a directory). The data goes to a
    /// temporary file on the server and appears under its name only after the server checked the checksum. Throws
    /// <see cref="FerryRemoteException"/> for a refusal (<c>already_exists</c> without <see cref="PutOptions.Force"/> comes
    /// before any data is sent), <see cref="FerryException"/> for a local problem (no such file, malformed remote path)
    /// and <see cref="IOException"/> for a failing connection.
    /// </summary>
    /// <param name="progress">Receives the bytes of the file done so far (including a resumed prefix).</param>
    public async Task<TransferResult> PutFileAsync(string localPath, string remotePath, PutOptions? options = null,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        var observer = progress is null ? null : new TransferObserver.ProgressAdapter(progress);
        var batch = await PutFilesAsync([new FileTransfer(localPath, remotePath)], options, observer, cancellationToken).ConfigureAwait(false);
        batch.ThrowIfFailed();
        return batch.Completed[0];
    }

    /// <summary>
    /// Uploads many files over this one connection, pipelined: for each batch of <see cref="PutBatchSize"/> files every
    /// <c>put</c> goes out at once, and each file's data follows as soon as its <c>put_ready</c> is in, so a batch costs
    /// about two round trips however small its files. A file the server refuses, or a local file that cannot be read,
    /// is reported in <see cref="BatchTransferResult.Failed"/> and the others go on; a broken connection throws.
    /// Remote parent directories must exist (see <see cref="PutTreeAsync"/>).
    /// </summary>
    public async Task<BatchTransferResult> PutFilesAsync(IReadOnlyList<FileTransfer> files, PutOptions? options = null,
        TransferObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        options ??= PutOptions.Default;
        observer ??= TransferObserver.None;
        EnsureUsable();
        var started = Stopwatch.GetTimestamp();
        var items = new List<PutItem>(files.Count);
        foreach (var file in files)
            items.Add(PreparePut(file, options));

        for (var first = 0; first < items.Count; first += PutBatchSize)
        {
            var batch = items.GetRange(first, Math.Min(PutBatchSize, items.Count - first)).Where(i => i.Failure is null).ToList();
            if (batch.Count > 0)
                await PutBatchAsync(batch, options, observer, cancellationToken).ConfigureAwait(false);
            if (batch.Where(i => i.Existing is not null).ToList() is { Count: > 0 } existing)
                await SettleExistingAsync(existing, options, observer, cancellationToken).ConfigureAwait(false);
        }

        foreach (var item in items.Where(i => i.Failure is not null && !i.Reported))
            observer.OnFailed(item.File, item.Failure!);
        return new BatchTransferResult
        {
            Completed = items.Where(i => i.Result is not null).Select(i => i.Result!).ToList(),
            Failed = items.Where(i => i.Failure is not null).Select(i => new TransferFailure(i.File.LocalPath, i.RemotePath, i.Failure!)).ToList(),
            Elapsed = Stopwatch.GetElapsedTime(started),
        };
    }

    /// <summary>
    /// Uploads the tree under <paramref name="localDirectory"/> so that <paramref name="remoteDirectory"/> becomes its copy:
    /// the remote directory and every subdirectory are created as needed (mkdir -p, pipelined), then every file goes as
    /// in <see cref="PutFilesAsync"/>. Symbolic links inside the tree are not followed nor sent; they are listed in
    /// <see cref="BatchTransferResult.SkippedLinks"/>.
    /// </summary>
    public async Task<BatchTransferResult> PutTreeAsync(string localDirectory, string remoteDirectory, PutOptions? options = null,
        TransferObserver? observer = null, CancellationToken cancellationToken = default)
    {
        var remoteRoot = RemotePath.Normalize(remoteDirectory);
        if (!Directory.Exists(localDirectory))
            throw new FerryException(FerryErrorCode.NotFound, $"There is no local directory '{localDirectory}'.");
        var started = Stopwatch.GetTimestamp();
        var (directories, files, links) = LocalFiles.WalkTree(localDirectory);

        var toCreate = new List<string>();
        if (remoteRoot.Length > 0)
            toCreate.Add(remoteRoot);
        toCreate.AddRange(directories.Select(d => RemotePath.Combine(remoteRoot, d)));
        var mkdirFailures = await MkdirManyAsync(toCreate, cancellationToken).ConfigureAwait(false);

        var transfers = files.Select(f => new FileTransfer(LocalFiles.Combine(localDirectory, f), RemotePath.Combine(remoteRoot, f))).ToList();
        var result = await PutFilesAsync(transfers, options, observer, cancellationToken).ConfigureAwait(false);
        return result with
        {
            Failed = [.. mkdirFailures.Select(f => new TransferFailure(localDirectory, f.Path, f.Error)), .. result.Failed],
            SkippedLinks = links.Select(l => LocalFiles.Combine(localDirectory, l)).ToList(),
            Elapsed = Stopwatch.GetElapsedTime(started),
        };
    }

    /// <summary>mkdir -p for every path, pipelined: all requests out, then all replies.</summary>
    private async Task<List<(string Path, FerryException Error)>> MkdirManyAsync(IReadOnlyList<string> paths, CancellationToken cancellationToken)
    {
        var failures = new List<(string, FerryException)>();
        if (paths.Count == 0)
            return failures;
        EnsureUsable();
        await RunDuplexAsync(async ct =>
        {
            foreach (var path in paths)
            {
                _writer.WriteHeader(new MkdirMessage { Path = path, Parents = true }, FerryJsonContext.Default.MkdirMessage);
                if (_output.UnflushedBytes >= 64 * 1024)
                    await _writer.FlushAsync(ct).ConfigureAwait(false);
            }
            await _writer.FlushAsync(ct).ConfigureAwait(false);
        }, async ct =>
        {
            foreach (var path in paths)
            {
                try
                {
                    await ReadFileReplyAsync(CommandNames.Ok, ct).ConfigureAwait(false);
                }
                catch (FerryRemoteException ex) when (!_broken)
                {
                    failures.Add((path, ex));
                }
            }
        }, cancellationToken).ConfigureAwait(false);
        return failures;
    }

    private static PutItem PreparePut(FileTransfer file, PutOptions options)
    {
        var item = new PutItem(file);
        try
        {
            item.RemotePath = RemotePath.Normalize(file.RemotePath);
            if (item.RemotePath.Length == 0)
                throw new FerryException(FerryErrorCode.IsADirectory, "The remote root is a directory; name the file to upload to.");
            var info = new FileInfo(file.LocalPath);
            if (Directory.Exists(file.LocalPath))
                throw new FerryException(FerryErrorCode.IsADirectory, $"'{file.LocalPath}' is a directory; upload it as a tree.");
            if (!info.Exists)
                throw new FerryException(FerryErrorCode.NotFound, $"There is no local file '{file.LocalPath}'.");
            item.Size = info.Length;
            item.ModifiedUnixSeconds = options.PreserveModifiedTime ? LocalFiles.ToUnixSeconds(info.LastWriteTimeUtc) : null;
        }
        catch (Exception ex) when (ex is FerryException or IOException or UnauthorizedAccessException)
        {
            item.Failure = ex;
        }
        return item;
    }

    private async Task PutBatchAsync(List<PutItem> batch, PutOptions options, TransferObserver observer, CancellationToken cancellationToken)
    {
        foreach (var item in batch)
            item.Id = NextTransferId();

        await RunDuplexAsync(async ct =>
        {
            foreach (var item in batch)
            {
                _writer.WriteHeader(new PutMessage
                {
                    Id = item.Id,
                    Path = item.RemotePath,
                    Size = item.Size,
                    Checksum = options.Checksum.Name,
                    Force = options.Force,
                    Resume = options.Resume,
                    ModifiedUnixSeconds = item.ModifiedUnixSeconds,
                }, FerryJsonContext.Default.PutMessage);
                if (_output.UnflushedBytes >= 64 * 1024)
                    await _writer.FlushAsync(ct).ConfigureAwait(false);
            }
            await _writer.FlushAsync(ct).ConfigureAwait(false);

            // Each file's data follows as soon as its put_ready is in; the server answers in request order.
            foreach (var item in batch)
            {
                if (!await item.Ready.Task.WaitAsync(ct).ConfigureAwait(false))
                    continue;
                await SendUploadAsync(item, options.Checksum, observer, ct).ConfigureAwait(false);
            }
        }, async ct =>
        {
            foreach (var item in batch)
            {
                try
                {
                    var header = await ReadFileReplyAsync(CommandNames.PutReady, ct).ConfigureAwait(false);
                    var ready = header.Deserialize(FerryJsonContext.Default.PutReadyMessage);
                    await AcceptPutReadyAsync(item, ready, header.BodyLength, options.Checksum, ct).ConfigureAwait(false);
                    item.Ready.TrySetResult(true);
                }
                catch (FerryRemoteException ex) when (!_broken)
                {
                    // already_exists may be this very file, uploaded by an earlier run: compared once the batch is done.
                    if (ex.Code == FerryErrorCode.AlreadyExists && !options.Force)
                        item.Existing = ex;
                    else
                        Fail(item, ex, observer);
                    item.Ready.TrySetResult(false);
                }
            }

            foreach (var item in batch)
            {
                if (!item.Ready.Task.Result)
                    continue;
                try
                {
                    var header = await ReadFileReplyAsync(CommandNames.Done, ct).ConfigureAwait(false);
                    var done = header.Deserialize(FerryJsonContext.Default.TransferDoneMessage);
                    if (item.Failure is not null)
                    {
                        Fail(item, item.Failure, observer); // abandoned by the sender; its own error is the one to report
                        continue;
                    }
                    if (done.Id != item.Id)
                        throw Break(new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                            $"The server answered upload {done.Id} where upload {item.Id} was expected.", isFatal: true));
                    if (done.Size != item.Size || !string.Equals(done.Hash, item.LocalHash, StringComparison.OrdinalIgnoreCase))
                    {
                        Fail(item, new FerryException(FerryErrorCode.ChecksumMismatch,
                            $"The server stored '{item.RemotePath}' with size {done.Size} and checksum {done.Hash}, but the local file has size {item.Size} and checksum {item.LocalHash}."), observer);
                        continue;
                    }
                    item.Result = new TransferResult
                    {
                        LocalPath = item.File.LocalPath,
                        RemotePath = item.RemotePath,
                        Bytes = item.Size,
                        BytesTransferred = item.BytesSent,
                        ResumedFrom = item.Offset,
                        Elapsed = Stopwatch.GetElapsedTime(item.StartedAt),
                        Checksum = options.Checksum.Name,
                        Hash = item.LocalHash!,
                    };
                    observer.OnCompleted(item.File, item.Result);
                }
                catch (FerryRemoteException ex) when (!_broken)
                {
                    Fail(item, item.Failure ?? ex, observer);
                }
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    private static void Fail(PutItem item, Exception error, TransferObserver observer)
    {
        item.Failure ??= error;
        if (!item.Reported)
        {
            item.Reported = true;
            observer.OnFailed(item.File, item.Failure);
        }
    }

    /// <summary>Reads put_ready's chunk hashes and checks that what the server offers makes sense for this file.</summary>
    private async Task AcceptPutReadyAsync(PutItem item, PutReadyMessage ready, long bodyLength, ChecksumAlgorithm checksum, CancellationToken ct)
    {
        if (ready.Id != item.Id)
            throw Break(new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                $"The server answered upload {ready.Id} where upload {item.Id} was expected.", isFatal: true));

        string? problem = null;
        var chunks = ready.ChunkSize > 0 ? ready.Offset / ready.ChunkSize : 0;
        if (ready.Offset < 0 || ready.Offset > item.Size)
            problem = $"offset {ready.Offset} is outside the file (size {item.Size})";
        else if (ready.Offset > 0 && ready.ChunkSize is < MinChunkSize or > MaxChunkSize)
            problem = $"chunk size {ready.ChunkSize} is unusable";
        else if (bodyLength != chunks * checksum.HashBytes)
            problem = $"{bodyLength} bytes of chunk hashes were sent for {chunks} chunk(s) of {checksum.HashBytes} bytes";

        if (problem is not null)
        {
            // The stream is still in step (the reader skips the body); give up on this file only.
            item.Failure = new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The server's put_ready for '{item.RemotePath}' is malformed: {problem}.", isFatal: false);
            return;
        }

        item.Offset = ready.Offset;
        item.ChunkSize = ready.ChunkSize;
        if (bodyLength > 0)
        {
            item.ChunkHashes = new byte[bodyLength];
            var filled = 0;
            while (filled < item.ChunkHashes.Length)
                filled += await _reader.ReadBodyAsync(item.ChunkHashes.AsMemory(filled), ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends one file's data and its put_end: first the chunks of a resumed prefix whose hash differs from the server's,
    /// then everything from put_ready's offset. The whole-file checksum is computed in the same single pass over the file.
    /// A local failure before any data frame abandons the upload with an empty put_end (the server answers an error,
    /// which is replaced by the local one); a failure inside a data frame breaks the connection.
    /// </summary>
    private async Task SendUploadAsync(PutItem item, ChecksumAlgorithm checksum, TransferObserver observer, CancellationToken ct)
    {
        item.StartedAt = Stopwatch.GetTimestamp();
        SafeFileHandle handle;
        try
        {
            if (item.Failure is not null)
                throw item.Failure;
            handle = File.OpenHandle(item.File.LocalPath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            if (RandomAccess.GetLength(handle) != item.Size)
            {
                handle.Dispose();
                throw new FerryException(FerryErrorCode.IoError, $"'{item.File.LocalPath}' changed size while waiting to be uploaded; try again.");
            }
        }
        catch (Exception ex) when (ex is FerryException or IOException or UnauthorizedAccessException)
        {
            item.Failure = ex;
            _writer.WriteHeader(new PutEndMessage { Id = item.Id, Hash = "" }, FerryJsonContext.Default.PutEndMessage);
            await _writer.FlushAsync(ct).ConfigureAwait(false);
            return;
        }

        using (handle)
        {
            observer.OnStarted(item.File, item.Size, item.Offset);
            using var whole = checksum.CreateHasher();
            var progress = new ProgressThrottle(item.File, observer);
            var verifiedEnd = 0L;
            if (item.Offset > 0)
            {
                verifiedEnd = item.Offset / item.ChunkSize * item.ChunkSize;
                await VerifyResumedPrefixAsync(item, handle, verifiedEnd, checksum, whole, progress, ct).ConfigureAwait(false);
            }
            await SendRangeAsync(item, handle, verifiedEnd, item.Size - verifiedEnd, whole, progress, ct).ConfigureAwait(false);
            item.LocalHash = Convert.ToHexStringLower(whole.GetHashAndReset());
            progress.Finish(item.Size);
        }
        _writer.WriteHeader(new PutEndMessage { Id = item.Id, Hash = item.LocalHash }, FerryJsonContext.Default.PutEndMessage);
        await _writer.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Hashes the prefix the server kept, chunk by chunk, and sends again every chunk whose hash differs.</summary>
    private async Task VerifyResumedPrefixAsync(PutItem item, SafeFileHandle handle, long verifiedEnd, ChecksumAlgorithm checksum,
        ChecksumAlgorithm.Hasher whole, ProgressThrottle progress, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(IoBlockSize);
        try
        {
            using var chunkHasher = checksum.CreateHasher();
            var hashBytes = checksum.HashBytes;
            for (long start = 0, index = 0; start < verifiedEnd; start += item.ChunkSize, index++)
            {
                var length = Math.Min(item.ChunkSize, verifiedEnd - start);
                for (long done = 0; done < length;)
                {
                    var want = (int)Math.Min(buffer.Length, length - done);
                    var n = await LocalFiles.ReadFullyAsync(handle, buffer.AsMemory(0, want), start + done, ct).ConfigureAwait(false);
                    if (n < want)
                        throw new IOException($"'{item.File.LocalPath}' shrank while being uploaded.");
                    whole.Append(buffer.AsSpan(0, n));
                    chunkHasher.Append(buffer.AsSpan(0, n));
                    done += n;
                }
                var local = chunkHasher.GetHashAndReset();
                var remote = item.ChunkHashes.AsSpan((int)(index * hashBytes), hashBytes);
                if (!local.AsSpan().SequenceEqual(remote))
                    await SendRangeAsync(item, handle, start, length, hasher: null, progress: null, ct).ConfigureAwait(false);
                progress.Report(start + length);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Sends [<paramref name="start"/>, start+<paramref name="length"/>) as put_data frames: read into a pooled buffer,
    /// hashed, handed to the frame writer (which sees every body byte, as a frame MAC needs).
    /// </summary>
    private async Task SendRangeAsync(PutItem item, SafeFileHandle handle, long start, long length, ChecksumAlgorithm.Hasher? hasher,
        ProgressThrottle? progress, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(IoBlockSize);
        try
        {
            while (length > 0)
            {
                var frame = Math.Min(length, PutDataFrameBytes);
                _writer.WriteHeader(new PutDataMessage { Id = item.Id, Offset = start, BodySize = frame }, FerryJsonContext.Default.PutDataMessage, frame);
                for (long sent = 0; sent < frame;)
                {
                    var want = (int)Math.Min(IoBlockSize, frame - sent);
                    var n = await LocalFiles.ReadFullyAsync(handle, buffer.AsMemory(0, want), start + sent, ct).ConfigureAwait(false);
                    if (n < want)
                        throw Break(new IOException($"'{item.File.LocalPath}' shrank while being uploaded; the connection was closed because the frame could not be completed."));
                    hasher?.Append(buffer.AsSpan(0, want));
                    var flushed = await _writer.WriteBodyAsync(buffer.AsMemory(0, want), ct).ConfigureAwait(false);
                    if (flushed.IsCompleted)
                        throw Break(new IOException("The server stopped reading the upload."));
                    sent += want;
                    item.BytesSent += want;
                    progress?.Report(start + sent);
                }
                start += frame;
                length -= frame;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reports progress at most once per <see cref="Step"/> bytes, so observers do not run on every buffer.</summary>
    private sealed class ProgressThrottle(FileTransfer file, TransferObserver observer)
    {
        private const long Step = 1024 * 1024;
        private long _last = -1;

        public void Report(long done)
        {
            if (done - _last < Step)
                return;
            _last = done;
            observer.OnProgress(file, done);
        }

        public void Finish(long done)
        {
            if (done != _last)
            {
                _last = done;
                observer.OnProgress(file, done);
            }
        }
    }

    private sealed class PutItem(FileTransfer file)
    {
        public FileTransfer File { get; } = file;
        public string RemotePath { get; set; } = file.RemotePath;
        public long Id { get; set; }
        public long Size { get; set; }
        public long? ModifiedUnixSeconds { get; set; }
        public long Offset { get; set; }
        public int ChunkSize { get; set; }
        public byte[] ChunkHashes { get; set; } = [];
        public long BytesSent { get; set; }
        public long StartedAt { get; set; }
        public string? LocalHash { get; set; }
        public TaskCompletionSource<bool> Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TransferResult? Result { get; set; }
        public Exception? Failure { get; set; }
        /// <summary>The server's already_exists, kept until the server's copy has been compared with the local file.</summary>
        public FerryRemoteException? Existing { get; set; }
        public bool Reported { get; set; }
    }
}
