using System.Buffers;
using System.Diagnostics;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Client;

// Downloads (docs/protocol.md §5.3): get → file + body → done, into .ferry-part.NAME beside the target, renamed into
// place once the whole-file checksum matched. Resume asks `hashes` for the partial file's chunks first.
public sealed partial class FerryClient
{
    /// <summary>Downloads requested before their replies are read (bounds what the server may have queued for us).</summary>
    internal const int GetWindow = 32;

    /// <summary>Chunk size asked for when comparing a partial download with the server's file.</summary>
    internal const int ResumeChunkSize = 4 * 1024 * 1024;

    /// <summary>
    /// Downloads one file to <paramref name="localPath"/> (the full local name, not a directory). The data goes to
    /// <c>.ferry-part.NAME</c> beside it and is renamed into place only after the server's checksum matched, so the
    /// target never holds a partial file. An existing target is replaced only with <see cref="GetOptions.Force"/>, and
    /// that is checked before the server is asked for anything. Throws <see cref="FerryRemoteException"/> for a refusal,
    /// <see cref="FerryException"/> for a local refusal or a checksum mismatch, <see cref="IOException"/> for a failing
    /// connection or disk.
    /// </summary>
    /// <param name="remotePath">The file to read from (put) or the remote path to fetch (get).</param>
    /// <param name="localPath">The full name to write to, not a directory.</param>
    /// <param name="options">Replace, resume and modification time; default <c>GetOptions.Default</c>.</param>
    /// <param name="progress">Receives the bytes of the file done so far (including a resumed prefix).</param>
    /// <param name="cancellationToken">Cancels the transfer; the connection is then unusable (<see cref="IsBroken"/>).</param>
    public async Task<TransferResult> GetFileAsync(string remotePath, string localPath, GetOptions? options = null,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        var observer = progress is null ? null : new TransferObserver.ProgressAdapter(progress);
        var batch = await GetFilesAsync([new FileTransfer(localPath, remotePath)], options, observer, cancellationToken).ConfigureAwait(false);
        batch.ThrowIfFailed();
        return batch.Completed[0];
    }

    /// <summary>
    /// Downloads many files over this one connection, pipelined: up to 32 requests are out while
    /// replies stream back. Files that are refused (remotely or locally) are reported in
    /// <see cref="BatchTransferResult.Failed"/> and the others go on; a broken connection throws. Local parent
    /// directories must exist (see <see cref="GetTreeAsync"/>).
    /// </summary>
    public Task<BatchTransferResult> GetFilesAsync(IReadOnlyList<FileTransfer> files, GetOptions? options = null,
        TransferObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        return GetFilesAsync(files, new GetRun(options ?? GetOptions.Default, observer ?? TransferObserver.None), cancellationToken);
    }

    /// <summary>
    /// Downloads one file over <paramref name="streams"/> connections (this one and up to streams−1 new ones to the same
    /// server): the same checks, partial file (<c>.ferry-part.NAME</c>), resume, checksum and commit as
    /// <see cref="GetFileAsync"/>, with the file's ranges fetched at once and written in place (docs/protocol.md §5.3).
    /// A file of one range goes as an ordinary get. Throws like <see cref="GetFileAsync"/>.
    /// </summary>
    public async Task<TransferResult> GetFileParallelAsync(string remotePath, string localPath, int streams, GetOptions? options = null,
        TransferObserver? observer = null, CancellationToken cancellationToken = default)
    {
        var run = new GetRun(options ?? GetOptions.Default, observer ?? TransferObserver.None) { Streams = Math.Clamp(streams, 1, MaxStreams) };
        EnsureUsable();
        var item = PrepareGet(new FileTransfer(localPath, remotePath), run.Options);
        if (item.Failure is null)
        {
            try
            {
                // The size decides the ranges.
                var entry = await StatEntryAsync(item.RemotePath, cancellationToken).ConfigureAwait(false);
                if (entry.Type != "file")
                    item.Failure = new FerryException(FerryErrorCode.IsADirectory, $"'{item.RemotePath}' is not a file.");
                item.Size = entry.Size;
            }
            catch (FerryRemoteException ex) when (!_broken)
            {
                item.Failure = ex;
            }
        }
        var batch = await GetItemsAsync([item], run, cancellationToken).ConfigureAwait(false);
        batch.ThrowIfFailed();
        return batch.Completed[0];
    }

    private Task<BatchTransferResult> GetFilesAsync(IReadOnlyList<FileTransfer> files, GetRun run, CancellationToken cancellationToken)
    {
        EnsureUsable();
        return GetItemsAsync(files.Select(f => PrepareGet(f, run.Options)).ToList(), run, cancellationToken);
    }

    /// <summary>
    /// The download pipeline every get goes through: partial downloads compared with the server (resume), then the files
    /// pipelined over this connection, and a file of several ranges (parallel streams) over several connections.
    /// </summary>
    internal async Task<BatchTransferResult> GetItemsAsync(List<GetItem> items, GetRun run, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        foreach (var item in items.Where(i => i.Failure is not null))
            Fail(item, item.Failure!, run.Observer);

        var live = items.Where(i => i.Failure is null).ToList();
        if (run.Options.Resume)
        {
            var partial = live.Where(i => File.Exists(i.PartPath) && new FileInfo(i.PartPath).Length > 0).ToList();
            if (partial.Count > 0)
                await CompareWithServerAsync(partial, run.Options.Checksum, cancellationToken).ConfigureAwait(false);
        }
        var parallel = live.Where(i => run.Streams > 1 && Ranges(i.Offset, i.Size, run.Streams).Count > 1).ToList();
        var sequential = live.Except(parallel).ToList();
        if (CanPackGets(run))
        {
            var packable = sequential.Where(i => i.Offset == 0 && i.ListedSize is >= 0 and <= PackGetMaxSize).ToList();
            if (packable.Count > 1)
            {
                var again = await GetPackedAsync(packable, run, cancellationToken).ConfigureAwait(false);
                sequential = [.. sequential.Except(packable), .. again];
            }
        }
        if (sequential.Count > 0)
            await GetBatchAsync(sequential, run, cancellationToken).ConfigureAwait(false);
        foreach (var item in parallel)
            await GetParallelAsync(item, run, cancellationToken).ConfigureAwait(false);

        return new BatchTransferResult
        {
            Completed = items.Where(i => i.Result is not null).Select(i => i.Result!).ToList(),
            Failed = items.Where(i => i.Failure is not null).Select(i => new TransferFailure(i.File.LocalPath, i.RemotePath, i.Failure!)).ToList(),
            Elapsed = Stopwatch.GetElapsedTime(started),
        };
    }

    /// <summary>
    /// Downloads the tree under <paramref name="remoteDirectory"/> so that <paramref name="localDirectory"/> becomes its
    /// copy: one recursive listing, local directories created, then every file as in <see cref="GetFilesAsync(IReadOnlyList{FileTransfer}, GetOptions?, TransferObserver?, CancellationToken)"/>. Names
    /// in the listing are checked like any remote path, so a server cannot make the client write outside
    /// <paramref name="localDirectory"/>.
    /// </summary>
    public async Task<BatchTransferResult> GetTreeAsync(string remoteDirectory, string localDirectory, GetOptions? options = null,
        TransferObserver? observer = null, CancellationToken cancellationToken = default)
    {
        var remoteRoot = RemotePath.Normalize(remoteDirectory);
        var started = Stopwatch.GetTimestamp();
        var entries = await ListEntriesAsync(remoteRoot, recursive: true, cancellationToken).ConfigureAwait(false);
        Directory.CreateDirectory(localDirectory);
        var failures = new List<TransferFailure>();
        var files = new List<(FileTransfer File, long Size)>();
        foreach (var entry in entries)
        {
            string name;
            try
            {
                name = RemotePath.Normalize(entry.Name);
            }
            catch (FerryException)
            {
                name = "";
            }
            if (name.Length == 0 || name != entry.Name)
            {
                failures.Add(new TransferFailure(localDirectory, entry.Name, new FerryProtocolException(FerryErrorCode.PathInvalid,
                    $"The server listed an entry named '{entry.Name}', which is not a plain relative path; it was skipped.", isFatal: false)));
                continue;
            }
            var local = LocalFiles.Combine(localDirectory, name);
            if (entry.Type == "dir")
            {
                try
                {
                    Directory.CreateDirectory(local);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    failures.Add(new TransferFailure(local, RemotePath.Combine(remoteRoot, name), ex));
                }
            }
            else
            {
                files.Add((new FileTransfer(local, RemotePath.Combine(remoteRoot, name)), entry.Size));
            }
        }
        var run = new GetRun(options ?? GetOptions.Default, observer ?? TransferObserver.None);
        var items = files.Select(f =>
        {
            var item = PrepareGet(f.File, run.Options);
            item.ListedSize = f.Size; // lets small files go many to a request (get_files)
            return item;
        }).ToList();
        EnsureUsable();
        var result = await GetItemsAsync(items, run, cancellationToken).ConfigureAwait(false);
        return result with { Failed = [.. failures, .. result.Failed], Elapsed = Stopwatch.GetElapsedTime(started) };
    }

    internal static GetItem PrepareGet(FileTransfer file, GetOptions options)
    {
        var item = new GetItem(file);
        try
        {
            item.RemotePath = RemotePath.Normalize(file.RemotePath);
            if (item.RemotePath.Length == 0)
                throw new FerryException(FerryErrorCode.IsADirectory, "The remote root is a directory; download it as a tree.");
            item.LocalPath = Path.GetFullPath(file.LocalPath);
            if (Directory.Exists(item.LocalPath))
                throw new FerryException(FerryErrorCode.IsADirectory, $"'{file.LocalPath}' is a local directory; name the file to download to.");
            if (!options.Force && File.Exists(item.LocalPath)) // with force (every sync pull) no need to look
                throw new FerryException(FerryErrorCode.AlreadyExists, $"'{file.LocalPath}' already exists; use --force to replace it.");
            var parent = Path.GetDirectoryName(item.LocalPath)!;
            if (!Directory.Exists(parent))
                throw new FerryException(FerryErrorCode.NotFound, $"There is no local directory '{parent}' to download into.");
            item.PartPath = LocalFiles.PartPathFor(item.LocalPath);
        }
        catch (Exception ex) when (ex is FerryException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            item.Failure = ex;
        }
        return item;
    }

    /// <summary>
    /// For each partial download, asks the server for chunk hashes over the partial file's length (pipelined) and keeps
    /// the prefix of chunks that match; <see cref="GetItem.Offset"/> becomes its length. Any refusal means start over.
    /// </summary>
    private async Task CompareWithServerAsync(List<GetItem> items, ChecksumAlgorithm checksum, CancellationToken cancellationToken)
    {
        foreach (var item in items)
            item.PartLength = new FileInfo(item.PartPath).Length;

        await RunDuplexAsync(async ct =>
        {
            foreach (var item in items)
            {
                _writer.WriteHeader(new HashesMessage
                {
                    Path = item.RemotePath,
                    Checksum = checksum.Name,
                    ChunkSize = ResumeChunkSize,
                    Length = item.PartLength,
                }, FerryJsonContext.Default.HashesMessage);
            }
            await _writer.FlushAsync(ct).ConfigureAwait(false);
        }, async ct =>
        {
            foreach (var item in items)
            {
                try
                {
                    var header = await ReadReplyAsync(CommandNames.HashList, ct).ConfigureAwait(false);
                    var list = header.Deserialize(FerryJsonContext.Default.HashListMessage);
                    var h = checksum.HashBytes;
                    var most = list.ChunkSize >= MinChunkSize ? (item.PartLength + list.ChunkSize - 1) / list.ChunkSize * h : 0;
                    if (list.ChunkSize is < MinChunkSize or > MaxChunkSize || header.BodyLength % h != 0 || header.BodyLength > most)
                        continue; // unusable answer (the reader skips its body): start over
                    var remote = await ReadBodyBytesAsync(header.BodyLength, ct).ConfigureAwait(false);
                    item.Offset = await MatchingPrefixAsync(item, remote, list.ChunkSize, Math.Min(item.PartLength, list.Size), checksum, ct).ConfigureAwait(false);
                }
                catch (FerryRemoteException) when (!_broken)
                {
                    item.Offset = 0; // the get that follows reports the real problem, if any
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException && !_broken)
                {
                    item.Offset = 0;
                }
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Length of the leading run of local chunks whose hash equals the server's.</summary>
    private static async Task<long> MatchingPrefixAsync(GetItem item, byte[] remoteHashes, int chunkSize, long usable, ChecksumAlgorithm checksum, CancellationToken ct)
    {
        using var handle = PartFile.OpenForReading(item.PartPath);
        var chunks = Math.Min(remoteHashes.Length / checksum.HashBytes, usable / chunkSize);
        var local = await ChunkHashes.ComputeAsync((buffer, position, token) => RandomAccess.ReadAsync(handle, buffer, position, token),
            chunks * chunkSize, chunkSize, checksum, whole: null, ct).ConfigureAwait(false);
        return (long)ChunkHashes.MatchingPrefix(local, remoteHashes, checksum) * chunkSize;
    }

    private async Task GetBatchAsync(List<GetItem> items, GetRun run, CancellationToken cancellationToken)
    {
        foreach (var item in items)
            item.Id = NextTransferId();
        using var window = new SemaphoreSlim(GetWindow, GetWindow);

        await RunDuplexAsync(async ct =>
        {
            foreach (var item in items)
            {
                if (!window.Wait(0, CancellationToken.None))
                {
                    await _writer.FlushAsync(ct).ConfigureAwait(false);
                    await window.WaitAsync(ct).ConfigureAwait(false);
                }
                _writer.WriteHeader(new GetMessage
                {
                    Id = item.Id,
                    Path = item.RemotePath,
                    Offset = item.Offset,
                    Checksum = run.Options.Checksum.Name,
                    Encoding = run.Shaping.Compress ? RangeShaping.Zstd : null,
                }, FerryJsonContext.Default.GetMessage);
            }
            await _writer.FlushAsync(ct).ConfigureAwait(false);
        }, async ct =>
        {
            foreach (var item in items)
            {
                try
                {
                    await ReceiveDownloadAsync(item, run, ct).ConfigureAwait(false);
                }
                catch (FerryRemoteException ex) when (!_broken)
                {
                    Fail(item, ex, run.Observer);
                }
                window.Release();
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads one reply (file + body + done, or an error) into the item's partial file and commits it if the checksum matches.</summary>
    private async Task ReceiveDownloadAsync(GetItem item, GetRun run, CancellationToken ct)
    {
        var checksum = run.Options.Checksum;
        using var hasher = checksum.CreateHasher();
        SafeFileHandle? handle = null;
        ProgressThrottle? progress = null;
        try
        {
            var got = await ReceiveRangeAsync(item.Id, item.RemotePath, item.Offset, length: null, async (file, token) =>
            {
                item.StartedAt = Stopwatch.GetTimestamp();
                run.Observer.OnStarted(item.File, file.Size, file.Offset);
                progress = new ProgressThrottle(item.File, run.Observer);
                handle = PartFile.OpenForWriting(item.PartPath, out var created); // never through a link planted at the part file's name
                if (!created || file.Offset > 0) // a file made just now is already empty
                    RandomAccess.SetLength(handle, file.Offset);
                if (file.Offset > 0)
                {
                    var kept = handle;
                    await ChunkHashes.ComputeAsync((buffer, position, t) => RandomAccess.ReadAsync(kept, buffer, position, t), file.Offset, 0, checksum, hasher, token).ConfigureAwait(false);
                }
                progress.Report(file.Offset);
                return new FileSink(handle, file.Offset, hasher);
            }, bytes =>
            {
                item.AddReceived(bytes);
                progress?.Add(bytes);
                run.DataMoved?.Invoke(bytes);
            }, run.Shaping, ct).ConfigureAwait(false);
            item.WireBytes = got.WireBytes;
            item.Offset = got.File.Offset;

            var localError = got.LocalError;
            if (localError is IOException full && handle is not null && LocalFiles.IsDiskFull(full))
            {
                // A hidden part file that filled the disk would make the next download fail too, with nothing to say why:
                // give the space back (or, if that fails, say where it is and how much it holds).
                var kept = TryLength(handle);
                handle.Dispose();
                handle = null;
                localError = PartFile.TryDelete(item.PartPath)
                    ? new IOException($"{full.Message} The partial download was removed to free its space.", full.HResult)
                    : new IOException($"{full.Message} The partial download '{item.PartPath}' ({kept} bytes) could not be removed; delete it to free the space.", full.HResult);
            }
            if (localError is not null)
            {
                Fail(item, localError, run.Observer);
                return;
            }
            var hash = Convert.ToHexStringLower(hasher.GetHashAndReset());
            CompleteDownload(item, ref handle, hash, got.Done, got.File, run, progress!);
        }
        finally
        {
            handle?.Dispose();
        }
    }

    /// <summary>
    /// Downloads a file of several ranges over several connections (§5.3): each range written in place into the one part
    /// file, the first with the server's whole-file hash, which the assembled file must match.
    /// </summary>
    private async Task GetParallelAsync(GetItem item, GetRun run, CancellationToken cancellationToken)
    {
        item.Id = NextTransferId();
        item.StartedAt = Stopwatch.GetTimestamp();
        var checksum = run.Options.Checksum;
        var ranges = Ranges(item.Offset, item.Size, run.Streams);
        SafeFileHandle? handle = null;
        try
        {
            try
            {
                handle = PartFile.OpenForWriting(item.PartPath); // never through a link planted at the part file's name
                RandomAccess.SetLength(handle, item.Offset);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Fail(item, ex, run.Observer);
                return;
            }
            run.Observer.OnStarted(item.File, item.Size, item.Offset);
            var progress = new ProgressThrottle(item.File, run.Observer);
            progress.Report(item.Offset);
            var target = handle;
            ReceivedRange? first = null;
            Exception? localError = null;
            var incomplete = false;
            try
            {
                await OverConnectionsAsync(ranges, async (client, range, token) =>
                {
                    var opener = ReferenceEquals(client, this);
                    var id = opener ? item.Id : client.NextTransferId();
                    client._writer.WriteHeader(new GetMessage
                    {
                        Id = id,
                        Path = item.RemotePath,
                        Offset = range.Offset,
                        Length = range.Length,
                        Checksum = checksum.Name,
                        NoHash = !opener,
                        Encoding = run.Shaping.Compress ? RangeShaping.Zstd : null,
                    }, FerryJsonContext.Default.GetMessage);
                    await client._writer.FlushAsync(token).ConfigureAwait(false);
                    var got = await client.ReceiveRangeAsync(id, item.RemotePath, range.Offset, range.Length,
                        (_, _) => ValueTask.FromResult(new FileSink(target, range.Offset, hasher: null)),
                        bytes =>
                        {
                            item.AddReceived(bytes);
                            progress.Add(bytes);
                            run.DataMoved?.Invoke(bytes);
                        }, run.Shaping, token).ConfigureAwait(false);
                    item.AddWire(got.WireBytes);
                    if (got.LocalError is not null)
                        localError ??= got.LocalError;
                    // The file changed size on the server meanwhile: the whole-file check below fails.
                    if (got.RawBytes != range.Length || got.File.Size != item.Size)
                        incomplete = true;
                    if (opener)
                        first = got;
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is FerryException or IOException && !_broken)
            {
                // A range failed on another connection; this one is still in step.
                Fail(item, ex, run.Observer);
                return;
            }
            if (localError is not null)
            {
                Fail(item, localError, run.Observer);
                return;
            }
            using var whole = checksum.CreateHasher();
            var hash = "";
            if (!incomplete)
            {
                await ChunkHashes.ComputeAsync((buffer, position, token) => RandomAccess.ReadAsync(target, buffer, position, token),
                    item.Size, 0, checksum, whole, cancellationToken).ConfigureAwait(false);
                hash = Convert.ToHexStringLower(whole.GetHashAndReset());
            }
            CompleteDownload(item, ref handle, hash, first!.Done, first.File, run, progress);
        }
        finally
        {
            handle?.Dispose();
        }
    }

    /// <summary>
    /// The one commit of a download: the hash received must equal the server's (else the part file is deleted and the file
    /// fails with checksum_mismatch); then <see cref="PartFile.Commit"/> (fsync, mode and time, rename).
    /// </summary>
    private static void CompleteDownload(GetItem item, ref SafeFileHandle? handle, string hash, TransferDoneMessage done, FileDataMessage file,
        GetRun run, ProgressThrottle progress)
    {
        if (!string.Equals(done.Hash, hash, StringComparison.OrdinalIgnoreCase) || done.Size != file.Size)
        {
            handle!.Dispose();
            handle = null;
            PartFile.TryDelete(item.PartPath);
            Fail(item, new FerryException(FerryErrorCode.ChecksumMismatch,
                $"The data received for '{item.RemotePath}' does not match the server's checksum ({done.Hash}, received {hash}); nothing was kept."), run.Observer);
            return;
        }
        long? modified = item.ModifiedNs is { } ns ? ns
            : run.Options.PreserveModifiedTime && file.ModifiedUnixSeconds > 0 ? file.ModifiedUnixSeconds * 1_000_000_000
            : null;
        CommitDownload(item, ref handle, hash, file.Size, modified, run, progress);
    }

    /// <summary>
    /// Commits a download whose data was checked: <see cref="PartFile.Commit"/> (fsync, mode and time, rename; the handle is
    /// closed), then the item's result. <paramref name="modified"/> is the time to give the file, or null to leave it.
    /// </summary>
    private static void CommitDownload(GetItem item, ref SafeFileHandle? handle, string hash, long size, long? modified, GetRun run, ProgressThrottle progress)
    {
        var overwrite = run.Options.Force || item.ForceReplace;
        var committing = handle!;
        handle = null; // the commit closes it
        try
        {
            PartFile.Commit(committing, item.PartPath, item.LocalPath, overwrite, modified, item.Mode is { } mode ? (UnixFileMode)mode : null);
        }
        catch (IOException) when (!overwrite && File.Exists(item.LocalPath))
        {
            Fail(item, new FerryException(FerryErrorCode.AlreadyExists,
                $"'{item.File.LocalPath}' appeared during the download; it was left alone and the data kept in '{item.PartPath}'."), run.Observer);
            return;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Fail(item, ex, run.Observer);
            return;
        }
        progress.Finish(size);
        item.Result = new TransferResult
        {
            LocalPath = item.File.LocalPath,
            RemotePath = item.RemotePath,
            Bytes = size,
            BytesTransferred = item.BytesReceived,
            ResumedFrom = item.Offset,
            Elapsed = Stopwatch.GetElapsedTime(item.StartedAt),
            Checksum = run.Options.Checksum.Name,
            Hash = hash,
        };
        run.Observer.OnCompleted(item.File, item.Result);
    }

    private static long TryLength(SafeFileHandle handle)
    {
        try
        {
            return RandomAccess.GetLength(handle);
        }
        catch (IOException)
        {
            return -1;
        }
    }

    private static void Fail(GetItem item, Exception error, TransferObserver observer)
    {
        item.Failure ??= error;
        if (!item.Reported)
        {
            item.Reported = true;
            observer.OnFailed(item.File, item.Failure);
        }
    }
}
