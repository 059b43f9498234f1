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
    internal const int PutBatchSize = 256;

    /// <summary>Bytes read from disk, hashed and written to the socket per step.</summary>
    internal const int IoBlockSize = 1024 * 1024;

    /// <summary>
    /// Largest put_data body. Several frames per file cost a header each (~60 bytes per 16 MiB) and bound what a server
    /// that keeps only whole frames would lose on a broken connection.
    /// </summary>
    internal const long PutDataFrameBytes = 16L * 1024 * 1024;

    /// <summary>Chunk-list bytes one pipelined batch carries at most before it is sent (more files wait for the next batch).</summary>
    private const long MaxBatchBodyBytes = 64L * 1024 * 1024;

    /// <summary>
    /// Largest file sent as one put_file frame. Such a frame cannot be refused before its body is sent (an existing
    /// file without force costs its bytes), so only files whose round trip would cost more than their bytes go that way.
    /// </summary>
    internal const long OneFrameMaxSize = 128 * 1024;

    /// <summary>Resume chunk sizes a server may use; outside them put_ready is treated as malformed (tiny chunks would make the hash list huge).</summary>
    private const int MinChunkSize = 4096, MaxChunkSize = 1024 * 1024 * 1024;

    /// <summary>
    /// Uploads one file to <paramref name="remotePath"/> (the full remote name, not a directory). The data goes to a
    /// temporary file on the server and appears under its name only after the server checked the checksum. Throws
    /// <see cref="FerryRemoteException"/> for a refusal (<c>already_exists</c> without <see cref="PutOptions.Force"/> comes
    /// before any data is sent), <see cref="FerryException"/> for a local problem (no such file, malformed remote path)
    /// and <see cref="IOException"/> for a failing connection.
    /// </summary>
    /// <param name="localPath">The file to read from (put) or the remote path to fetch (get).</param>
    /// <param name="remotePath">The full name to write to, not a directory.</param>
    /// <param name="options">Replace, resume and modification time; default <c>PutOptions.Default</c>.</param>
    /// <param name="progress">Receives the bytes of the file done so far (including a resumed prefix).</param>
    /// <param name="cancellationToken">Cancels the transfer; the connection is then unusable (<see cref="IsBroken"/>).</param>
    public async Task<TransferResult> PutFileAsync(string localPath, string remotePath, PutOptions? options = null,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        var observer = progress is null ? null : new TransferObserver.ProgressAdapter(progress);
        var batch = await PutFilesAsync([new FileTransfer(localPath, remotePath)], options, observer, cancellationToken).ConfigureAwait(false);
        batch.ThrowIfFailed();
        return batch.Completed[0];
    }

    /// <summary>
    /// Uploads many files over this one connection, pipelined: for each batch of 256 files every
    /// <c>put</c> goes out at once, and each file's data follows as soon as its <c>put_ready</c> is in, so a batch costs
    /// about two round trips however small its files. A file the server refuses, or a local file that cannot be read,
    /// is reported in <see cref="BatchTransferResult.Failed"/> and the others go on; a broken connection throws.
    /// Remote parent directories must exist (see <see cref="PutTreeAsync"/>).
    /// </summary>
    public Task<BatchTransferResult> PutFilesAsync(IReadOnlyList<FileTransfer> files, PutOptions? options = null,
        TransferObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        return PutFilesAsync(files, new PutRun(options ?? PutOptions.Default, observer ?? TransferObserver.None), cancellationToken);
    }

    /// <summary>
    /// Uploads one file over <paramref name="streams"/> connections (this one and up to streams−1 new ones to the same
    /// server): the same pipeline as <see cref="PutFilesAsync(IReadOnlyList{FileTransfer}, PutOptions?, TransferObserver?, CancellationToken)"/> (the same put, resume check, already-there check,
    /// modification time and checksum), with the file's ranges sent at once as a shared upload (docs/protocol.md §5.2.1).
    /// A file of one range goes as an ordinary put. Throws like <see cref="PutFileAsync"/>.
    /// </summary>
    public async Task<TransferResult> PutFileParallelAsync(string localPath, string remotePath, int streams, PutOptions? options = null,
        TransferObserver? observer = null, CancellationToken cancellationToken = default)
    {
        var run = new PutRun(options ?? PutOptions.Default, observer ?? TransferObserver.None) { Streams = Math.Clamp(streams, 1, MaxStreams) };
        var batch = await PutFilesAsync([new FileTransfer(localPath, remotePath)], run, cancellationToken).ConfigureAwait(false);
        batch.ThrowIfFailed();
        return batch.Completed[0];
    }

    private async Task<BatchTransferResult> PutFilesAsync(IReadOnlyList<FileTransfer> files, PutRun run, CancellationToken cancellationToken)
    {
        EnsureUsable();
        var started = Stopwatch.GetTimestamp();
        var items = new List<PutItem>(files.Count);
        foreach (var file in files)
            items.Add(PreparePut(file, run.Options));
        await PutItemsAsync(items, run, cancellationToken).ConfigureAwait(false);
        foreach (var item in items.Where(i => i.Failure is not null && !i.Reported))
            Fail(item, item.Failure!, run.Observer);
        return new BatchTransferResult
        {
            Completed = items.Where(i => i.Result is not null).Select(i => i.Result!).ToList(),
            Failed = items.Where(i => i.Failure is not null).Select(i => new TransferFailure(i.File.LocalPath, i.RemotePath, i.Failure!)).ToList(),
            Elapsed = Stopwatch.GetElapsedTime(started),
        };
    }

    /// <summary>
    /// The upload pipeline every put goes through (single files, batches, trees, parallel streams, sync pushes): batches of
    /// <see cref="PutBatchSize"/> (fewer when the batch's chunk lists grow large), each as two round trips; items refused
    /// with already_exists are then compared with the server's copy. Failed items are left with their
    /// <see cref="PutItem.Failure"/>; a broken connection throws.
    /// </summary>
    internal async Task PutItemsAsync(IReadOnlyList<PutItem> items, PutRun run, CancellationToken cancellationToken)
    {
        if (CanPack(run) && items.Where(i => Packable(i, run.Options)).ToList() is { Count: > 0 } packed)
        {
            // Many small whole files per frame (§5.9.7); the rest go through the put pipeline below.
            await PutPackedAsync(packed, run, cancellationToken).ConfigureAwait(false);
            if (packed.Where(i => i.Existing is not null).ToList() is { Count: > 0 } existing)
                await SettleExistingAsync(existing, run.Options, run.Observer, cancellationToken).ConfigureAwait(false);
            var inPacks = packed.ToHashSet(ReferenceEqualityComparer.Instance);
            items = items.Where(i => !inPacks.Contains(i)).ToList();
        }
        var first = 0;
        while (first < items.Count)
        {
            var batch = new List<PutItem>();
            long bodies = 0;
            // Chunk lists travel in the put frames: bound what one batch holds in memory and in flight.
            for (; first < items.Count && batch.Count < PutBatchSize && (batch.Count == 0 || bodies < MaxBatchBodyBytes); first++)
            {
                if (items[first].Failure is not null)
                    continue;
                batch.Add(items[first]);
                bodies += items[first].ChunkList?.Length ?? 0;
            }
            if (batch.Count > 0)
                await PutBatchAsync(batch, run, cancellationToken).ConfigureAwait(false);
            if (batch.Where(i => i.Existing is not null).ToList() is { Count: > 0 } existing)
                await SettleExistingAsync(existing, run.Options, run.Observer, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Uploads the tree under <paramref name="localDirectory"/> so that <paramref name="remoteDirectory"/> becomes its copy:
    /// the remote directory and every subdirectory are created as needed (mkdir -p, pipelined), then every file goes as
    /// in <see cref="PutFilesAsync(IReadOnlyList{FileTransfer}, PutOptions?, TransferObserver?, CancellationToken)"/>. Symbolic links inside the tree are not followed nor sent; they are listed in
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
    internal async Task<List<(string Path, FerryException Error)>> MkdirManyAsync(IReadOnlyList<string> paths, CancellationToken cancellationToken)
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
                    await ReadReplyAsync(CommandNames.Ok, ct).ConfigureAwait(false);
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

    private async Task PutBatchAsync(List<PutItem> batch, PutRun run, CancellationToken cancellationToken)
    {
        var options = run.Options;
        var observer = run.Observer;
        // Small whole files go in one put_file frame each (§5.2.2): no put_ready round trip, two frames fewer per file.
        var oneFrame = ServerSupports(CommandNames.PutFile) && run.Streams <= 1 && !run.Shaping.Compress;
        foreach (var item in batch)
        {
            item.Id = NextTransferId();
            item.InOneFrame = oneFrame && item.Basis is null && item.Size <= OneFrameMaxSize;
        }

        await RunDuplexAsync(async ct =>
        {
            foreach (var item in batch)
            {
                if (item.InOneFrame)
                {
                    await SendInOneFrameAsync(item, run, ct).ConfigureAwait(false);
                    if (_output.UnflushedBytes >= 64 * 1024)
                        await _writer.FlushAsync(ct).ConfigureAwait(false);
                    continue;
                }
                var list = item.ChunkList;
                _writer.WriteHeader(new PutMessage
                {
                    Id = item.Id,
                    Path = item.RemotePath,
                    Size = item.Size,
                    Checksum = options.Checksum.Name,
                    Force = options.Force || item.ForceReplace,
                    Resume = item.Basis is null && (options.Resume || item.ResumeIfKept),
                    // A file of several ranges is a shared upload that other connections join (§5.2.1).
                    Shared = item.Basis is null && run.Streams > 1 && Ranges(0, item.Size, run.Streams).Count > 1,
                    ModifiedUnixSeconds = item.ModifiedNs is null ? item.ModifiedUnixSeconds : null,
                    ModifiedNs = item.ModifiedNs,
                    Mode = item.Mode,
                    Basis = item.Basis,
                    AverageChunkSize = item.AverageChunkSize,
                    Groups = item.Groups?.Count,
                    BodySize = list is null ? null : list.Length,
                }, FerryJsonContext.Default.PutMessage, list?.Length ?? 0);
                if (list is not null)
                    await _writer.WriteBodyAsync(list, ct).ConfigureAwait(false);
                if (_output.UnflushedBytes >= 64 * 1024)
                    await _writer.FlushAsync(ct).ConfigureAwait(false);
            }
            await _writer.FlushAsync(ct).ConfigureAwait(false);

            // Two-level delta puts (§5.9.6): the chunks of the groups the server lacks, once put_groups named them.
            foreach (var item in batch)
            {
                if (item.Groups is null || !await item.GroupsAnswered.Task.WaitAsync(ct).ConfigureAwait(false))
                    continue;
                var chunks = item.ChunksToSend!;
                _writer.WriteHeader(new PutChunksMessage { Id = item.Id, BodySize = chunks.Length }, FerryJsonContext.Default.PutChunksMessage, chunks.Length);
                await _writer.WriteBodyAsync(chunks, ct).ConfigureAwait(false);
                if (_output.UnflushedBytes >= 64 * 1024)
                    await _writer.FlushAsync(ct).ConfigureAwait(false);
            }
            await _writer.FlushAsync(ct).ConfigureAwait(false);

            // Each file's data follows as soon as its put_ready is in; the server answers in request order.
            foreach (var item in batch)
            {
                if (item.InOneFrame || !await item.Ready.Task.WaitAsync(ct).ConfigureAwait(false))
                    continue;
                await SendUploadAsync(item, run, ct).ConfigureAwait(false);
            }
        }, async ct =>
        {
            foreach (var item in batch)
            {
                if (item.InOneFrame)
                {
                    // Its reply is done (or an error) in this same place of the order, if the sender could send it.
                    if (!await item.Ready.Task.WaitAsync(ct).ConfigureAwait(false))
                    {
                        Fail(item, item.Failure!, observer);
                        continue;
                    }
                    try
                    {
                        AcceptDone(item, await ReadReplyAsync(CommandNames.Done, ct).ConfigureAwait(false), options, observer);
                    }
                    catch (FerryRemoteException ex) when (!_broken)
                    {
                        if (ex.Code == FerryErrorCode.AlreadyExists && !options.Force && !item.ForceReplace)
                            item.Existing = ex;
                        else
                            Fail(item, ex, observer);
                    }
                    continue;
                }
                if (item.Groups is not null)
                {
                    await ReadPutGroupsAsync(item, observer, ct).ConfigureAwait(false);
                    continue;
                }
                try
                {
                    await ReceivePutReadyAsync(item, options.Checksum, ct).ConfigureAwait(false);
                }
                catch (FerryRemoteException ex) when (!_broken)
                {
                    // already_exists may be this very file, uploaded by an earlier run: compared once the batch is done.
                    if (ex.Code == FerryErrorCode.AlreadyExists && !options.Force && !item.ForceReplace)
                        item.Existing = ex;
                    else
                        Fail(item, ex, observer);
                    item.Ready.TrySetResult(false);
                }
            }

            // put_chunks are answered by put_ready, after every put's first reply.
            foreach (var item in batch)
            {
                if (item.Groups is null || !item.GroupsAnswered.Task.Result)
                    continue;
                try
                {
                    await ReceivePutReadyAsync(item, options.Checksum, ct).ConfigureAwait(false);
                }
                catch (FerryRemoteException ex) when (!_broken)
                {
                    Fail(item, ex, observer);
                    item.Ready.TrySetResult(false);
                }
            }

            foreach (var item in batch)
            {
                if (item.InOneFrame || !item.Ready.Task.Result)
                    continue;
                try
                {
                    var header = await ReadReplyAsync(CommandNames.Done, ct).ConfigureAwait(false);
                    if (item.Failure is not null)
                    {
                        Fail(item, item.Failure, observer); // abandoned by the sender; its own error is the one to report
                        continue;
                    }
                    AcceptDone(item, header, options, observer);
                }
                catch (FerryRemoteException ex) when (!_broken)
                {
                    Fail(item, item.Failure ?? ex, observer);
                }
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An upload's <c>done</c>: the server must have stored exactly the file that was sent.</summary>
    private void AcceptDone(PutItem item, FrameHeader header, PutOptions options, TransferObserver observer)
    {
        var done = header.Deserialize(FerryJsonContext.Default.TransferDoneMessage);
        if (done.Id != item.Id)
            throw Break(new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                $"The server answered upload {done.Id} where upload {item.Id} was expected.", isFatal: true));
        if (done.Size != item.Size || !string.Equals(done.Hash, item.LocalHash, StringComparison.OrdinalIgnoreCase))
        {
            Fail(item, new FerryException(FerryErrorCode.ChecksumMismatch,
                $"The server stored '{item.RemotePath}' with size {done.Size} and checksum {done.Hash}, but the local file has size {item.Size} and checksum {item.LocalHash}."), observer);
            return;
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

    /// <summary>
    /// Sends a small file as one put_file frame: read whole (a file that no longer has its scanned size is not sent),
    /// hashed, then header and body copied into the output without a flush of their own. Marks
    /// <see cref="PutItem.Ready"/> with whether a frame went, which tells the receive loop whether a reply comes.
    /// </summary>
    private async Task SendInOneFrameAsync(PutItem item, PutRun run, CancellationToken ct)
    {
        var size = (int)item.Size;
        var buffer = ArrayPool<byte>.Shared.Rent(size + 1);
        try
        {
            item.StartedAt = Stopwatch.GetTimestamp();
            try
            {
                LocalFiles.ReadWholeSmallFile(item.File.LocalPath, buffer, size);
            }
            catch (Exception ex) when (ex is FerryException or IOException or UnauthorizedAccessException)
            {
                item.Failure = ex; // reported by the receive loop, like every other outcome
                item.Ready.TrySetResult(false);
                return;
            }
            var options = run.Options;
            item.LocalHash = Convert.ToHexStringLower(options.Checksum.Hash(buffer.AsSpan(0, size)));
            run.Observer.OnStarted(item.File, item.Size, 0);
            if (run.Shaping.Limiter is { } limiter)
                await limiter.TakeAsync(size, ct).ConfigureAwait(false);
            _writer.WriteHeader(new PutFileMessage
            {
                Id = item.Id,
                Path = item.RemotePath,
                Checksum = options.Checksum.Name,
                Hash = item.LocalHash,
                Force = options.Force || item.ForceReplace,
                ModifiedUnixSeconds = item.ModifiedNs is null ? item.ModifiedUnixSeconds : null,
                ModifiedNs = item.ModifiedNs,
                Mode = item.Mode,
                BodySize = size,
            }, FerryJsonContext.Default.PutFileMessage, size);
            _writer.WriteBody(buffer.AsSpan(0, size));
            item.AddSent(size);
            item.AddWire(size);
            run.DataMoved?.Invoke(size);
            new ProgressThrottle(item.File, run.Observer).Finish(item.Size);
            item.Ready.TrySetResult(true);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
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

    /// <summary>Reads the put_ready that opens <paramref name="item"/>'s upload, takes it, and lets its sender go.</summary>
    private async Task ReceivePutReadyAsync(PutItem item, ChecksumAlgorithm checksum, CancellationToken ct)
    {
        var header = await ReadReplyAsync(CommandNames.PutReady, ct).ConfigureAwait(false);
        var ready = header.Deserialize(FerryJsonContext.Default.PutReadyMessage);
        await AcceptPutReadyAsync(item, ready, header.BodyLength, checksum, ct).ConfigureAwait(false);
        item.Ready.TrySetResult(true);
    }

    /// <summary>Reads put_ready's chunk hashes and checks that what the server offers makes sense for this file.</summary>
    private async Task AcceptPutReadyAsync(PutItem item, PutReadyMessage ready, long bodyLength, ChecksumAlgorithm checksum, CancellationToken ct)
    {
        if (ready.Id != item.Id)
            throw Break(new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                $"The server answered upload {ready.Id} where upload {item.Id} was expected.", isFatal: true));

        if (item.Basis is not null)
        {
            await AcceptNeededRangesAsync(item, ready, bodyLength, ct).ConfigureAwait(false);
            return;
        }
        item.Token = ready.Token;
        string? problem = null;
        var chunks = ready.ChunkSize > 0 ? ready.Offset / ready.ChunkSize : 0;
        if (ready.NeededRanges is not null)
            problem = "it lists needed ranges for an upload that named no basis";
        else if (ready.Offset < 0 || ready.Offset > item.Size)
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
            item.ChunkHashes = await ReadBodyBytesAsync(bodyLength, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// A two-level delta put's put_groups (§5.9.6): the ascending indices of the groups the server lacks. Prepares the
    /// put_chunks body (their chunks, in order) and releases the sender; anything malformed fails this file only (the
    /// server drops the waiting put when the connection ends).
    /// </summary>
    private async Task ReadPutGroupsAsync(PutItem item, TransferObserver observer, CancellationToken ct)
    {
        try
        {
            var header = await ReadReplyAsync(CommandNames.PutGroups, ct).ConfigureAwait(false);
            var answer = header.Deserialize(FerryJsonContext.Default.PutGroupsMessage);
            if (answer.Id != item.Id)
                throw Break(new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                    $"The server answered upload {answer.Id} where upload {item.Id} was expected.", isFatal: true));
            var groups = item.Groups!;
            if (answer.Need < 0 || answer.Need > groups.Count || header.BodyLength < answer.Need || header.BodyLength > 5L * answer.Need)
            {
                item.Failure = new FerryProtocolException(FerryErrorCode.FieldInvalid,
                    $"The server's put_groups for '{item.RemotePath}' is malformed: {header.BodyLength} bytes for {answer.Need} of {groups.Count} groups.", isFatal: false);
            }
            else
            {
                var body = await ReadBodyBytesAsync(header.BodyLength, ct).ConfigureAwait(false);
                int[] missing;
                try
                {
                    missing = Ferry.Sync.Delta.ChunkGroups.DecodeIndices(body, answer.Need, groups.Count);
                }
                catch (Ferry.Sync.Delta.ChunkListFormatException ex)
                {
                    missing = [];
                    item.Failure = new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The server's put_groups for '{item.RemotePath}' is malformed: {ex.Message}", isFatal: false);
                }
                var chunks = new List<Ferry.Sync.Chunking.Chunk>();
                long offset = 0;
                foreach (var index in missing)
                {
                    for (var k = 0; k < groups[index].ChunkCount; k++)
                    {
                        var chunk = item.Chunks![groups[index].FirstChunk + k];
                        chunks.Add(chunk with { Offset = offset });
                        offset += chunk.Length;
                    }
                }
                item.ChunksToSend = Ferry.Sync.Delta.ChunkListCodec.Encode(new Ferry.Sync.Delta.ChunkList(chunks, Ferry.Sync.Delta.ChunkIdWidth.Bits64));
            }
        }
        catch (FerryRemoteException ex) when (!_broken)
        {
            item.Failure ??= ex;
        }
        if (item.Failure is not null)
        {
            Fail(item, item.Failure, observer);
            item.GroupsAnswered.TrySetResult(false);
            item.Ready.TrySetResult(false);
            return;
        }
        item.GroupsAnswered.TrySetResult(true);
    }

    /// <summary>
    /// A delta put's put_ready (§5.9.3): K little-endian (offset, length) pairs, sorted, not overlapping, inside the file.
    /// Anything else fails this file only (the reader skips a body it did not read).
    /// </summary>
    private async Task AcceptNeededRangesAsync(PutItem item, PutReadyMessage ready, long bodyLength, CancellationToken ct)
    {
        var count = ready.NeededRanges ?? -1;
        string? problem = null;
        if (count < 0 || bodyLength != 16L * count)
            problem = $"{bodyLength} bytes were sent for {count} needed range(s)";
        else if (ready.Offset != 0)
            problem = $"offset {ready.Offset} is not 0";
        if (problem is null)
        {
            var body = await ReadBodyBytesAsync(bodyLength, ct).ConfigureAwait(false);
            var ranges = new List<(long Offset, long Length)>(count);
            var end = 0L;
            for (var i = 0; i < count && problem is null; i++)
            {
                var offset = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(body.AsSpan(i * 16));
                var length = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(body.AsSpan(i * 16 + 8));
                if (offset < end || length <= 0 || length > item.Size - offset)
                    problem = $"range {i} [{offset}, +{length}) is out of order, empty or outside the file (size {item.Size})";
                ranges.Add((offset, length));
                end = offset + length;
            }
            if (problem is null)
            {
                item.Needed = ranges;
                return;
            }
        }
        item.Failure = new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The server's put_ready for '{item.RemotePath}' is malformed: {problem}.", isFatal: false);
    }

    /// <summary>
    /// Sends one file's data and its put_end: for a delta put exactly the needed ranges; otherwise first the chunks of a
    /// resumed prefix whose hash differs from the server's, then everything from put_ready's offset, over this connection
    /// or, for a shared upload, over several. The whole-file checksum is computed in the same pass over the file (in a
    /// pass of its own when ranges move at once or only some of the file is sent). A local failure before any data frame
    /// abandons the upload with an empty put_end (the server answers an error, which is replaced by the local one); a
    /// failure inside a data frame breaks the connection.
    /// </summary>
    private async Task SendUploadAsync(PutItem item, PutRun run, CancellationToken ct)
    {
        var checksum = run.Options.Checksum;
        item.StartedAt = Stopwatch.GetTimestamp();
        SafeFileHandle handle;
        try
        {
            if (item.Failure is not null)
                throw item.Failure;
            handle = File.OpenHandle(item.File.LocalPath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
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
            run.Observer.OnStarted(item.File, item.Size, item.Offset);
            var progress = new ProgressThrottle(item.File, run.Observer);
            progress.Report(item.Offset);
            void Moved(long bytes)
            {
                item.AddSent(bytes);
                run.DataMoved?.Invoke(bytes);
            }
            void MovedInOrder(long bytes)
            {
                Moved(bytes);
                progress.Add(bytes);
            }
            ValueTask<int> Read(Memory<byte> buffer, long position, CancellationToken token) => RandomAccess.ReadAsync(handle, buffer, position, token);

            using var whole = checksum.CreateHasher();
            if (item.Needed is { } needed)
            {
                foreach (var (offset, length) in needed)
                    item.AddWire(await SendRangeAsync(item.Id, handle, item.File.LocalPath, offset, length, null, Moved, run.Shaping, ct).ConfigureAwait(false));
                item.LocalHash = item.KnownHash
                    ?? await HashLocalAsync(Read, item.File.LocalPath, 0, item.Size, checksum, whole, ct).ConfigureAwait(false);
            }
            else
            {
                var verifiedEnd = 0L;
                if (item.Offset > 0)
                {
                    verifiedEnd = item.Offset / item.ChunkSize * item.ChunkSize;
                    var local = await ChunkHashes.ComputeAsync(Read, verifiedEnd, item.ChunkSize, checksum, whole, ct).ConfigureAwait(false);
                    var h = checksum.HashBytes;
                    for (var i = 0; i < local.Length / h; i++)
                    {
                        if (!local.AsSpan(i * h, h).SequenceEqual(item.ChunkHashes.AsSpan(i * h, h)))
                            item.AddWire(await SendRangeAsync(item.Id, handle, item.File.LocalPath, (long)i * item.ChunkSize, item.ChunkSize, null, Moved, run.Shaping, ct).ConfigureAwait(false));
                    }
                    progress.Report(verifiedEnd);
                }
                var ranges = item.Token is not null ? Ranges(verifiedEnd, item.Size, run.Streams) : [(verifiedEnd, item.Size - verifiedEnd)];
                if (ranges.Count == 1)
                {
                    item.AddWire(await SendRangeAsync(item.Id, handle, item.File.LocalPath, verifiedEnd, item.Size - verifiedEnd, whole, MovedInOrder, run.Shaping, ct).ConfigureAwait(false));
                    item.LocalHash = Convert.ToHexStringLower(whole.GetHashAndReset());
                }
                else
                {
                    // Ranges leave out of order: the rest of the whole-file hash is a read of its own, alongside.
                    var hashing = Task.Run(() => HashLocalAsync(Read, item.File.LocalPath, verifiedEnd, item.Size - verifiedEnd, checksum, whole, ct), ct);
                    await SendSharedRangesAsync(item, handle, ranges, MovedInOrder, run.Shaping, ct).ConfigureAwait(false);
                    item.LocalHash = await hashing.ConfigureAwait(false);
                }
            }
            progress.Finish(item.Size);
        }
        _writer.WriteHeader(new PutEndMessage { Id = item.Id, Hash = item.LocalHash }, FerryJsonContext.Default.PutEndMessage);
        await _writer.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Hashes [<paramref name="start"/>, start+<paramref name="length"/>) into <paramref name="whole"/> (which may hold a prefix already) and returns the hex of the result.</summary>
    private static async Task<string> HashLocalAsync(ChecksumAlgorithm.ReadAt read, string localPath, long start, long length,
        ChecksumAlgorithm checksum, ChecksumAlgorithm.Hasher whole, CancellationToken ct)
    {
        try
        {
            await ChunkHashes.ComputeAsync((buffer, position, token) => read(buffer, start + position, token), length, 0, checksum, whole, ct).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw new IOException($"'{localPath}' shrank while being uploaded.", ex);
        }
        return Convert.ToHexStringLower(whole.GetHashAndReset());
    }

    /// <summary>
    /// Sends a shared upload's ranges at once: the first on this connection, each other one on a new connection that joins
    /// the upload with its token, sends its range and ends its part (§5.2.1).
    /// </summary>
    private Task SendSharedRangesAsync(PutItem item, SafeFileHandle handle, List<(long Offset, long Length)> ranges, Action<long> sent,
        RangeShaping shaping, CancellationToken ct) => OverConnectionsAsync(ranges, async (client, range, token) =>
    {
        if (ReferenceEquals(client, this))
        {
            item.AddWire(await SendRangeAsync(item.Id, handle, item.File.LocalPath, range.Offset, range.Length, null, sent, shaping, token).ConfigureAwait(false));
            await _writer.FlushAsync(token).ConfigureAwait(false);
            return;
        }
        var id = client.NextTransferId();
        client._writer.WriteHeader(new PutJoinMessage { Id = id, Token = item.Token }, FerryJsonContext.Default.PutJoinMessage);
        await client._writer.FlushAsync(token).ConfigureAwait(false);
        await client.ReadReplyAsync(CommandNames.PutReady, token).ConfigureAwait(false);
        await client._reader.SkipBodyAsync(token).ConfigureAwait(false);
        var wire = await client.SendRangeAsync(id, handle, item.File.LocalPath, range.Offset, range.Length, null, sent, shaping, token).ConfigureAwait(false);
        item.AddWire(wire);
        client._writer.WriteHeader(new PutEndMessage { Id = id, Part = true }, FerryJsonContext.Default.PutEndMessage);
        await client._writer.FlushAsync(token).ConfigureAwait(false);
        await client.ReadReplyAsync(CommandNames.Done, token).ConfigureAwait(false);
    }, ct);

}
