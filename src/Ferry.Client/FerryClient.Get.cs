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
    public const int GetWindow = 32;

    /// <summary>Chunk size asked for when comparing a partial download with the server's file.</summary>
    public const int ResumeChunkSize = 4 * 1024 * 1024;

    /// <summary>
    /// Downloads one file to <paramref name="localPath"/> (the full local name, not a directory). The data goes to
    /// <c>.ferry-part.NAME</c> beside it and is renamed into place only after the server's checksum matched, so the
    /// target never holds a partial file. An existing target is replaced only with <see cref="GetOptions.Force"/>, and
    /// that is checked before the server is asked for anything. Throws <see cref="FerryRemoteException"/> for a refusal,
    /// <see cref="FerryException"/> for a local refusal or a checksum mismatch, <see cref="IOException"/> for a failing
    /// connection or disk.
    /// </summary>
    /// <param name="progress">Receives the bytes of the file done so far (including a resumed prefix).</param>
    public async Task<TransferResult> GetFileAsync(string remotePath, string localPath, GetOptions? options = null,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        var observer = progress is null ? null : new TransferObserver.ProgressAdapter(progress);
        var batch = await GetFilesAsync([new FileTransfer(localPath, remotePath)], options, observer, cancellationToken).ConfigureAwait(false);
        batch.ThrowIfFailed();
        return batch.Completed[0];
    }

    /// <summary>
    /// Downloads many files over this one connection, pipelined: up to <see cref="GetWindow"/> requests are out while
    /// replies stream back. Files that are refused (remotely or locally) are reported in
    /// <see cref="BatchTransferResult.Failed"/> and the others go on; a broken connection throws. Local parent
    /// directories must exist (see <see cref="GetTreeAsync"/>).
    /// </summary>
    public async Task<BatchTransferResult> GetFilesAsync(IReadOnlyList<FileTransfer> files, GetOptions? options = null,
        TransferObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        options ??= GetOptions.Default;
        observer ??= TransferObserver.None;
        EnsureUsable();
        var started = Stopwatch.GetTimestamp();
        var items = files.Select(f => PrepareGet(f, options)).ToList();
        foreach (var item in items.Where(i => i.Failure is not null))
            Fail(item, item.Failure!, observer);

        var live = items.Where(i => i.Failure is null).ToList();
        if (options.Resume)
        {
            var partial = live.Where(i => File.Exists(i.PartPath) && new FileInfo(i.PartPath).Length > 0).ToList();
            if (partial.Count > 0)
                await CompareWithServerAsync(partial, options.Checksum, cancellationToken).ConfigureAwait(false);
        }
        if (live.Count > 0)
            await GetBatchAsync(live, options, observer, cancellationToken).ConfigureAwait(false);

        return new BatchTransferResult
        {
            Completed = items.Where(i => i.Result is not null).Select(i => i.Result!).ToList(),
            Failed = items.Where(i => i.Failure is not null).Select(i => new TransferFailure(i.File.LocalPath, i.RemotePath, i.Failure!)).ToList(),
            Elapsed = Stopwatch.GetElapsedTime(started),
        };
    }

    /// <summary>
    /// Downloads the tree under <paramref name="remoteDirectory"/> so that <paramref name="localDirectory"/> becomes its
    /// copy: one recursive listing, local directories created, then every file as in <see cref="GetFilesAsync"/>. Names
    /// in the listing are checked like any remote path, so a server cannot make the client write outside
    /// <paramref name="localDirectory"/>.
    /// </summary>
    public async Task<BatchTransferResult> GetTreeAsync(string remoteDirectory, string localDirectory, GetOptions? options = null,
        TransferObserver? observer = null, CancellationToken cancellationToken = default)
    {
        var remoteRoot = RemotePath.Normalize(remoteDirectory);
        var started = Stopwatch.GetTimestamp();
        var entries = await ListAsync(remoteRoot, recursive: true, cancellationToken).ConfigureAwait(false);
        Directory.CreateDirectory(localDirectory);
        var failures = new List<TransferFailure>();
        var files = new List<FileTransfer>();
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
                files.Add(new FileTransfer(local, RemotePath.Combine(remoteRoot, name)));
            }
        }
        var result = await GetFilesAsync(files, options, observer, cancellationToken).ConfigureAwait(false);
        return result with { Failed = [.. failures, .. result.Failed], Elapsed = Stopwatch.GetElapsedTime(started) };
    }

    private static GetItem PrepareGet(FileTransfer file, GetOptions options)
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
            if (File.Exists(item.LocalPath) && !options.Force)
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
                    var header = await ReadFileReplyAsync(CommandNames.HashList, ct).ConfigureAwait(false);
                    var list = header.Deserialize(FerryJsonContext.Default.HashListMessage);
                    var h = checksum.HashBytes;
                    var most = list.ChunkSize >= MinChunkSize ? (item.PartLength + list.ChunkSize - 1) / list.ChunkSize * h : 0;
                    if (list.ChunkSize is < MinChunkSize or > MaxChunkSize || header.BodyLength % h != 0 || header.BodyLength > most)
                        continue; // unusable answer (the reader skips its body): start over
                    var remote = new byte[header.BodyLength];
                    for (var filled = 0; filled < remote.Length;)
                        filled += await _reader.ReadBodyAsync(remote.AsMemory(filled), ct).ConfigureAwait(false);
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
        var h = checksum.HashBytes;
        var buffer = ArrayPool<byte>.Shared.Rent(IoBlockSize);
        try
        {
            using var handle = PartFile.OpenForReading(item.PartPath);
            using var hasher = checksum.CreateHasher();
            long kept = 0;
            for (var i = 0; i < remoteHashes.Length / h; i++)
            {
                var start = (long)i * chunkSize;
                var end = Math.Min(start + chunkSize, usable);
                if (end <= start)
                    break;
                for (var position = start; position < end;)
                {
                    var want = (int)Math.Min(buffer.Length, end - position);
                    var n = await LocalFiles.ReadFullyAsync(handle, buffer.AsMemory(0, want), position, ct).ConfigureAwait(false);
                    if (n == 0)
                        return kept;
                    hasher.Append(buffer.AsSpan(0, n));
                    position += n;
                }
                if (!hasher.GetHashAndReset().AsSpan().SequenceEqual(remoteHashes.AsSpan(i * h, h)))
                    break;
                kept = end;
            }
            return kept;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task GetBatchAsync(List<GetItem> items, GetOptions options, TransferObserver observer, CancellationToken cancellationToken)
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
                _writer.WriteHeader(new GetMessage { Id = item.Id, Path = item.RemotePath, Offset = item.Offset, Checksum = options.Checksum.Name },
                    FerryJsonContext.Default.GetMessage);
            }
            await _writer.FlushAsync(ct).ConfigureAwait(false);
        }, async ct =>
        {
            foreach (var item in items)
            {
                try
                {
                    await ReceiveDownloadAsync(item, options, observer, ct).ConfigureAwait(false);
                }
                catch (FerryRemoteException ex) when (!_broken)
                {
                    Fail(item, ex, observer);
                }
                window.Release();
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads one reply (file + body + done, or an error) into the item's partial file and commits it if the checksum matches.</summary>
    private async Task ReceiveDownloadAsync(GetItem item, GetOptions options, TransferObserver observer, CancellationToken ct)
    {
        var header = await ReadFileReplyAsync(CommandNames.FileData, ct).ConfigureAwait(false);
        var file = header.Deserialize(FerryJsonContext.Default.FileDataMessage);
        if (file.Id != item.Id)
            throw Break(new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                $"The server answered download {file.Id} where download {item.Id} was expected.", isFatal: true));
        if (file.Size < 0 || file.Offset < 0 || file.Offset > file.Size || file.Offset > item.Offset || header.BodyLength != file.Size - file.Offset)
            throw Break(new FerryProtocolException(FerryErrorCode.FieldInvalid,
                $"The server's file frame for '{item.RemotePath}' does not add up (size {file.Size}, offset {file.Offset}, body {header.BodyLength}, asked from {item.Offset}).", isFatal: true));

        item.StartedAt = Stopwatch.GetTimestamp();
        observer.OnStarted(item.File, file.Size, file.Offset);
        var progress = new ProgressThrottle(item.File, observer);
        using var hasher = options.Checksum.CreateHasher();
        Exception? localError = null;
        SafeFileHandle? handle = null;
        try
        {
            try
            {
                handle = PartFile.OpenForWriting(item.PartPath); // never through a link planted at the part file's name
                RandomAccess.SetLength(handle, file.Offset);
                if (file.Offset > 0)
                    await HashPrefixAsync(handle, file.Offset, hasher, ct).ConfigureAwait(false);
                progress.Report(file.Offset);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                localError = ex;
            }

            var sink = localError is null ? new FileSink(handle!, file.Offset, hasher) : null;
            try
            {
                while (_reader.BodyRemaining > 0)
                {
                    var chunk = await _reader.ReadBodyChunkAsync(ct).ConfigureAwait(false);
                    if (sink is not null && localError is null)
                    {
                        try
                        {
                            await sink.WriteAsync(chunk, ct).ConfigureAwait(false);
                        }
                        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                        {
                            localError = ex; // keep reading: the body must be consumed for the connection to stay in step
                        }
                    }
                    _reader.AdvanceBody(chunk, chunk.Length);
                    item.BytesReceived += chunk.Length;
                    progress.Report(file.Offset + item.BytesReceived);
                }
                if (sink is not null && localError is null)
                {
                    try
                    {
                        await sink.FlushAsync(ct).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        localError = ex;
                    }
                }
            }
            finally
            {
                if (sink is not null)
                    await sink.DisposeAsync().ConfigureAwait(false);
            }

            var doneHeader = await ReadFileReplyAsync(CommandNames.Done, ct).ConfigureAwait(false);
            var done = doneHeader.Deserialize(FerryJsonContext.Default.TransferDoneMessage);
            if (localError is IOException full && handle is not null && LocalFiles.IsDiskFull(full))
            {
                // A hidden part file that filled the disk would make the next download fail too, with nothing to say why:
                // give the space back (or, if that fails, say where it is and how much it holds).
                var kept = TryLength(handle);
                handle.Dispose();
                handle = null;
                localError = TryDelete(item.PartPath)
                    ? new IOException($"{full.Message} The partial download was removed to free its space.", full.HResult)
                    : new IOException($"{full.Message} The partial download '{item.PartPath}' ({kept} bytes) could not be removed; delete it to free the space.", full.HResult);
            }
            if (localError is not null)
            {
                Fail(item, localError, observer);
                return;
            }
            var hash = Convert.ToHexStringLower(hasher.GetHashAndReset());
            if (!string.Equals(done.Hash, hash, StringComparison.OrdinalIgnoreCase) || done.Size != file.Size)
            {
                handle!.Dispose();
                TryDelete(item.PartPath);
                Fail(item, new FerryException(FerryErrorCode.ChecksumMismatch,
                    $"The data received for '{item.RemotePath}' does not match the server's checksum ({done.Hash}, received {hash}); nothing was kept."), observer);
                return;
            }
            // On disk before it gets its final name, so a crash never leaves the name on missing data.
            using (var stream = new FileStream(handle!, FileAccess.ReadWrite, bufferSize: 0, handle!.IsAsync))
                stream.Flush(flushToDisk: true);
            try
            {
                File.Move(item.PartPath, item.LocalPath, overwrite: options.Force);
            }
            catch (IOException) when (!options.Force && File.Exists(item.LocalPath))
            {
                Fail(item, new FerryException(FerryErrorCode.AlreadyExists,
                    $"'{item.File.LocalPath}' appeared during the download; it was left alone and the data kept in '{item.PartPath}'."), observer);
                return;
            }
            if (options.PreserveModifiedTime && file.ModifiedUnixSeconds > 0)
            {
                try
                {
                    File.SetLastWriteTimeUtc(item.LocalPath, DateTimeOffset.FromUnixTimeSeconds(file.ModifiedUnixSeconds).UtcDateTime);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    // The data is in place; a time stamp the file system refuses is not worth failing for.
                }
            }
            progress.Finish(file.Size);
            item.Result = new TransferResult
            {
                LocalPath = item.File.LocalPath,
                RemotePath = item.RemotePath,
                Bytes = file.Size,
                BytesTransferred = item.BytesReceived,
                ResumedFrom = file.Offset,
                Elapsed = Stopwatch.GetElapsedTime(item.StartedAt),
                Checksum = options.Checksum.Name,
                Hash = hash,
            };
            observer.OnCompleted(item.File, item.Result);
        }
        finally
        {
            handle?.Dispose();
        }
    }

    private static async Task HashPrefixAsync(SafeFileHandle handle, long length, ChecksumAlgorithm.Hasher hasher, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(IoBlockSize);
        try
        {
            for (long position = 0; position < length;)
            {
                var want = (int)Math.Min(buffer.Length, length - position);
                var n = await LocalFiles.ReadFullyAsync(handle, buffer.AsMemory(0, want), position, ct).ConfigureAwait(false);
                if (n < want)
                    throw new IOException("The partial download shrank while being read.");
                hasher.Append(buffer.AsSpan(0, n));
                position += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
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

    private sealed class GetItem(FileTransfer file)
    {
        public FileTransfer File { get; } = file;
        public string RemotePath { get; set; } = file.RemotePath;
        public string LocalPath { get; set; } = file.LocalPath;
        public string PartPath { get; set; } = "";
        public long PartLength { get; set; }
        public long Id { get; set; }
        public long Offset { get; set; }
        public long BytesReceived { get; set; }
        public long StartedAt { get; set; }
        public TransferResult? Result { get; set; }
        public Exception? Failure { get; set; }
        public bool Reported { get; set; }
    }
}
