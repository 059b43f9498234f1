using System.Diagnostics;
using System.IO.Hashing;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Files;
using Ferry.Protocol.Messages;
using Ferry.Sync.Chunking;
using Ferry.Sync.Delta;

namespace Ferry.Client.Sync;

/// <summary>
/// <see cref="IRemoteTree"/> over one <see cref="FerryClient"/> connection (docs/protocol.md §5.9). Every byte of file
/// data goes through the client's one upload and download pipeline: whole files as pipelined puts and gets, deltas as a
/// put with a chunk list whose needed ranges the same range sender sends, or as ranged gets into a file assembled beside
/// the destination. One call at a time, like the client.
/// </summary>
internal sealed class RemoteTree(FerryClient client) : IRemoteTree
{
    /// <summary>
    /// Files handled per window when each may carry a chunk list: their lists and items are all that a push or pull holds
    /// in memory at once. A window ends the pipeline (every reply in before the next window starts), so small whole files,
    /// which hold only their item, count <see cref="WindowCostOfSmallWholeFile"/> of <see cref="WindowCost"/> each, and
    /// a tree of small files goes as a few long pipelines rather than many short ones.
    /// </summary>
    private const int Window = FerryClient.PutBatchSize;

    /// <summary>A window's budget: <see cref="Window"/> files that may carry a chunk list.</summary>
    private const int WindowCost = Window * 16;

    /// <summary>What a small file sent whole costs of <see cref="WindowCost"/>: 4096 of them fill a window.</summary>
    private const int WindowCostOfSmallWholeFile = 1;

    /// <summary>Whole files at least this large ask the server for a resume point, so an interrupted push does not start over.</summary>
    private const long ResumableSize = 16L * 1024 * 1024;

    /// <summary>Most basis files a delta put may name (§5.9.3).</summary>
    private const int MaxBasis = 16;

    private static readonly PutOptions PushOptions = new() { Force = true, Checksum = ChecksumAlgorithm.Xxh3 };
    private static readonly GetOptions PullOptions = new() { Force = true, Resume = true, Checksum = ChecksumAlgorithm.Xxh3 };

    public FerryClient Client { get; } = client ?? throw new ArgumentNullException(nameof(client));

    public Task<IReadOnlyList<ScanEntry>?> ScanAsync(string path, bool hashes, CancellationToken cancellationToken) =>
        Client.ScanAsync(path, hashes, cancellationToken);

    public Task MakeDirectoryAsync(string path, CancellationToken cancellationToken) => Client.MkdirAsync(path, parents: true, cancellationToken);

    public Task<List<(string Path, FerryException Error)>> MakeDirectoriesAsync(IReadOnlyList<string> paths, CancellationToken cancellationToken) =>
        Client.MkdirManyAsync(paths.Select(RemotePath.Normalize).ToList(), cancellationToken);

    public Task SetAttributesAsync(string path, int? mode, long? modifiedNs, CancellationToken cancellationToken) =>
        Client.SetAttributesAsync(path, mode, modifiedNs, cancellationToken);

    public Task CreateSymlinkAsync(string path, string target, CancellationToken cancellationToken) =>
        Client.CreateSymlinkAsync(path, target, cancellationToken);

    public Task RemoveAsync(string path, bool recursive, CancellationToken cancellationToken) => Client.RemoveAsync(path, recursive, cancellationToken);

    public async Task<IReadOnlyList<FileSyncOutcome>> PushFilesAsync(IReadOnlyList<FilePush> files, FileSyncOptions options,
        IFileSyncObserver observer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(observer);
        var shaping = Shaping(options);
        var outcomes = new List<FileSyncOutcome>(files.Count);
        for (int first = 0, end; first < files.Count; first = end)
        {
            end = WindowEnd(files.Count, first, i => IsSmallWhole(files[i].Basis.Count, files[i].Size, options));
            var window = new List<FilePush>();
            var settled = new List<FileSyncOutcome?>();
            for (var k = first; k < end; k++)
            {
                var file = files[k];
                var unchanged = await SettleIfUnchangedAsync(file, options, cancellationToken).ConfigureAwait(false);
                settled.Add(unchanged);
                if (unchanged is not null)
                    observer.FileFinished(unchanged);
                else
                    window.Add(file);
            }
            var pushed = new List<FileSyncOutcome>(window.Count);
            var items = new List<PutItem>(window.Count);
            foreach (var file in window)
                items.Add(await PreparePushAsync(file, options, Client.UsesChunkGroups, cancellationToken).ConfigureAwait(false));
            var run = new PutRun(PushOptions, new PushObserver(items, observer)) { Shaping = shaping, DataMoved = observer.DataMoved };
            await Client.PutItemsAsync(items, run, cancellationToken).ConfigureAwait(false);

            // A delta the server assembled into something else (a basis changed meanwhile) goes again, whole, once.
            var again = items.Where(i => i.Basis is not null && IsMismatch(i.Failure)).ToList();
            var retries = again.ToDictionary<PutItem, PutItem, PutItem>(i => i, WholePush, ReferenceEqualityComparer.Instance);
            if (retries.Count > 0)
            {
                var retryItems = retries.Values.ToList();
                var retryRun = run with { Observer = new PushObserver(retryItems, observer) };
                await Client.PutItemsAsync(retryItems, retryRun, cancellationToken).ConfigureAwait(false);
            }
            foreach (var item in items)
            {
                if (retries.TryGetValue(item, out var retry))
                {
                    var outcome = PushOutcome(retry, extraWire: item.WireBytes);
                    pushed.Add(outcome);
                }
                else
                {
                    var outcome = PushOutcome(item, 0);
                    pushed.Add(outcome);
                    if (item.Failure is not null && !item.Reported)
                        observer.FileFinished(outcome); // refused before the pipeline saw it
                }
            }
            // Back in the files' order, the settled ones where they were.
            var next = 0;
            foreach (var unchanged in settled)
                outcomes.Add(unchanged ?? pushed[next++]);
        }
        return outcomes;
    }

    /// <summary>
    /// A file whose size is that of the remote copy it replaces but whose time differs (a touch, a copy that kept the
    /// content): its whole-file hash is compared with the server's first (a scan of the one file with hashes, §5.9.1),
    /// and when they match only mode and time cross the wire (setattr, §5.9.5). Null when it has to be sent.
    /// </summary>
    private async Task<FileSyncOutcome?> SettleIfUnchangedAsync(FilePush file, FileSyncOptions options, CancellationToken cancellationToken)
    {
        if (file.Basis.Count == 0 || file.Size != file.BasisSize || file.Size < options.WholeFileThreshold)
            return null;
        try
        {
            var remotePath = RemotePath.Normalize(file.RemotePath);
            if (remotePath.Length == 0 || RemotePath.Normalize(file.Basis[0]) != remotePath)
                return null;
            // The chunks are cut as the push would cut them, so a digester's cache serves the push as well.
            var chunking = ChunkingParameters.ForFileLength(file.Size);
            var (hash, _) = await ChunkLocalAsync(file.LocalPath, chunking, options, cancellationToken).ConfigureAwait(false);
            var remote = await Client.ScanAsync(remotePath, hashes: true, cancellationToken).ConfigureAwait(false);
            if (remote is not [{ Name: "", Type: ScanEntryTypes.File } entry] || entry.Size != file.Size
                || !string.Equals(entry.Hash, hash, StringComparison.OrdinalIgnoreCase))
                return null;
            await Client.SetAttributesAsync(remotePath, file.Mode & 0x1FF, file.ModifiedNs, cancellationToken).ConfigureAwait(false);
            return new FileSyncOutcome(remotePath, null, null, 0, file.Size, true);
        }
        catch (Exception ex) when (ex is FerryException or IOException or UnauthorizedAccessException && !Client.IsBroken)
        {
            return null; // the push meets (and reports) whatever went wrong here
        }
    }

    /// <summary>A push item: whole (small, new, or no basis), or a delta with the local chunk list cut as the server will cut its bases.</summary>
    private static async Task<PutItem> PreparePushAsync(FilePush file, FileSyncOptions options, bool groups, CancellationToken cancellationToken)
    {
        var item = new PutItem(new FileTransfer(file.LocalPath, file.RemotePath))
        {
            Size = file.Size,
            Mode = file.Mode & 0x1FF,
            ModifiedNs = file.ModifiedNs,
            ForceReplace = true,
            ResumeIfKept = file.Size >= ResumableSize,
        };
        try
        {
            item.RemotePath = RemotePath.Normalize(file.RemotePath);
            if (item.RemotePath.Length == 0)
                throw new FerryException(FerryErrorCode.IsADirectory, "The remote root is a directory; name the file to send.");
            if (file.Basis.Count == 0 || file.Size < options.WholeFileThreshold)
                return item;
            var chunking = ChunkingParameters.ForFileLength(Math.Max(file.Size, file.BasisSize));
            var (hash, chunks) = await ChunkLocalAsync(file.LocalPath, chunking, options, cancellationToken).ConfigureAwait(false);
            if (chunks.Count == 0 || chunks[^1].End != file.Size)
                throw new FerryException(FerryErrorCode.IoError, $"'{file.LocalPath}' changed since it was scanned; it is sent on the next run.");
            item.Basis = file.Basis.Take(MaxBasis).Select(RemotePath.Normalize).ToArray();
            item.AverageChunkSize = chunking.AverageSize;
            if (groups)
            {
                // Two levels (§5.9.6): the put carries one hash per group; chunk ids follow only for the groups the server lacks.
                item.Chunks = chunks;
                item.Groups = ChunkGroups.Split(chunks);
                item.ChunkList = ChunkGroups.Encode(item.Groups);
            }
            else
            {
                item.ChunkList = ChunkListCodec.Encode(new ChunkList(chunks, ChunkIdWidth.Bits64));
            }
            item.KnownHash = hash;
        }
        catch (Exception ex) when (ex is FerryException or IOException or UnauthorizedAccessException)
        {
            item.Failure = ex;
        }
        return item;
    }

    /// <summary>The same file as an ordinary whole put (after a delta's checksum_mismatch).</summary>
    private static PutItem WholePush(PutItem delta) => new(delta.File)
    {
        RemotePath = delta.RemotePath,
        Size = delta.Size,
        Mode = delta.Mode,
        ModifiedNs = delta.ModifiedNs,
        ForceReplace = true,
        ResumeIfKept = delta.Size >= ResumableSize,
    };

    private static FileSyncOutcome PushOutcome(PutItem item, long extraWire)
    {
        var wire = item.WireBytes + extraWire;
        if (item.Failure is not null)
            return new FileSyncOutcome(item.RemotePath, CodeOf(item.Failure), item.Failure.Message, wire, 0, item.Basis is not null);
        return new FileSyncOutcome(item.RemotePath, null, null, wire, Math.Max(0, item.Size - item.BytesSent), item.Basis is not null);
    }

    public async Task<IReadOnlyList<FileSyncOutcome>> PullFilesAsync(IReadOnlyList<FilePull> files, FileSyncOptions options,
        IFileSyncObserver observer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(observer);
        var shaping = Shaping(options);
        var outcomes = new FileSyncOutcome?[files.Count];
        for (int first = 0, end; first < files.Count; first = end)
        {
            end = WindowEnd(files.Count, first, i => IsSmallWhole(files[i].Basis.Count, files[i].Size, options));
            var whole = new List<(int Index, FilePull File)>();
            for (var i = first; i < end; i++)
            {
                var file = files[i];
                if (file.Basis.Count == 0 || file.Size < options.WholeFileThreshold)
                {
                    whole.Add((i, file));
                    continue;
                }
                var (outcome, fallBack) = await PullDeltaAsync(file, options, shaping, observer, cancellationToken).ConfigureAwait(false);
                if (fallBack)
                    whole.Add((i, file));
                else
                    outcomes[i] = Finish(observer, outcome!);
            }
            if (whole.Count > 0)
            {
                var results = await PullWholeAsync(whole.Select(w => w.File).ToList(), shaping, observer, cancellationToken).ConfigureAwait(false);
                for (var k = 0; k < whole.Count; k++)
                    outcomes[whole[k].Index] = Finish(observer, results[k]);
            }
        }
        return outcomes.Select(o => o!).ToList();
    }

    /// <summary>A file that goes whole (no basis, or below the delta threshold) and small enough to travel packed with others.</summary>
    private static bool IsSmallWhole(int basisCount, long size, FileSyncOptions options) =>
        (basisCount == 0 || size < options.WholeFileThreshold) && size <= FerryClient.PackMaxForcedSize;

    /// <summary>Where the window that starts at <paramref name="first"/> ends (exclusive): at least one file, at most <see cref="WindowCost"/>.</summary>
    internal static int WindowEnd(int count, int first, Func<int, bool> isSmallWhole)
    {
        var end = first;
        for (var cost = 0; end < count; end++)
        {
            cost += isSmallWhole(end) ? WindowCostOfSmallWholeFile : WindowCost / Window;
            if (cost > WindowCost && end > first)
                break;
        }
        return end;
    }

    private static FileSyncOutcome Finish(IFileSyncObserver observer, FileSyncOutcome outcome)
    {
        observer.FileFinished(outcome);
        return outcome;
    }

    /// <summary>Whole files through the download pipeline: each into its part file, checked against the server's hash, given mode and time, renamed.</summary>
    private async Task<List<FileSyncOutcome>> PullWholeAsync(List<FilePull> files, RangeShaping shaping, IFileSyncObserver observer, CancellationToken cancellationToken)
    {
        var items = files.Select(f =>
        {
            var item = FerryClient.PrepareGet(new FileTransfer(f.LocalPath, f.RemotePath), PullOptions);
            item.ForceReplace = true;
            item.ListedSize = f.Size;
            item.Mode = f.Mode & 0x1FF;
            item.ModifiedNs = f.ModifiedNs;
            return item;
        }).ToList();
        var run = new GetRun(PullOptions, TransferObserver.None) { Shaping = shaping, DataMoved = observer.DataMoved };
        await Client.GetItemsAsync(items, run, cancellationToken).ConfigureAwait(false);
        return items.Select(i => i.Failure is not null
            ? new FileSyncOutcome(i.File.LocalPath, CodeOf(i.Failure), i.Failure.Message, i.WireBytes, 0, false)
            : new FileSyncOutcome(i.File.LocalPath, null, null, i.WireBytes, i.Offset, false)).ToList();
    }

    /// <summary>
    /// A delta pull (§5.9.2): the server's chunk list, a plan against the local bases, the missing ranges fetched with
    /// pipelined ranged gets, the file assembled in its part file beside the destination, checked against the list's hash
    /// and renamed. Returns fallBack when the file should be fetched whole instead (the hash did not match, or the
    /// server cannot give a chunk list); a failure that a whole fetch would meet as well is an outcome.
    /// </summary>
    private async Task<(FileSyncOutcome? Outcome, bool FallBack)> PullDeltaAsync(FilePull file, FileSyncOptions options, RangeShaping shaping,
        IFileSyncObserver observer, CancellationToken cancellationToken)
    {
        var local = Path.GetFullPath(file.LocalPath);
        var chunking = ChunkingParameters.ForFileLength(Math.Max(file.Size, file.BasisSize));
        var index = new ChunkIndex();
        var groups = new ChunkGroupIndex();
        (string Hash, long Length)? destination = null; // the file being replaced, when it is one of the bases
        foreach (var basis in file.Basis)
        {
            try
            {
                var (hash, chunks) = await ChunkLocalAsync(basis, chunking, options, cancellationToken).ConfigureAwait(false);
                var full = Path.GetFullPath(basis);
                if (full == local)
                    destination = (hash, chunks.Count == 0 ? 0 : chunks[^1].End);
                index.AddFile(full, chunks);
                groups.AddFile(chunks);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A basis that is gone or unreadable just offers nothing.
            }
        }
        ChunkListMessage message;
        ChunkList list;
        var remotePath = RemotePath.Normalize(file.RemotePath);
        try
        {
            if (Client.UsesChunkGroups)
            {
                // Two levels (§5.9.6): the server's group hashes, then the chunk ids of only the groups no basis here has.
                (message, var remoteGroups) = await Client.ChunkGroupsAsync(remotePath, chunking.AverageSize, cancellationToken).ConfigureAwait(false);
                if (TrySettleInPlace(file, local, destination, message))
                    return (new FileSyncOutcome(file.LocalPath, null, null, 0, file.Size, true), false);
                var missing = groups.Missing(remoteGroups);
                var expected = missing.Sum(i => remoteGroups[i].ChunkCount);
                IReadOnlyList<Chunk> received = missing.Count == 0 ? []
                    : await Client.PickChunksAsync(remotePath, chunking.AverageSize, message.Hash!, missing, expected, message.Size, cancellationToken).ConfigureAwait(false);
                list = groups.Assemble(remoteGroups, missing, received, message.Size);
            }
            else
            {
                (message, list) = await Client.ChunksAsync(remotePath, chunking.AverageSize, cancellationToken).ConfigureAwait(false);
                if (TrySettleInPlace(file, local, destination, message))
                    return (new FileSyncOutcome(file.LocalPath, null, null, 0, file.Size, true), false);
            }
        }
        catch (FerryRemoteException ex) when (!Client.IsBroken && ex.Code != FerryErrorCode.ChecksumMismatch)
        {
            return (new FileSyncOutcome(file.LocalPath, CodeOf(ex), ex.Message, 0, 0, true), false);
        }
        catch (FerryException) when (!Client.IsBroken)
        {
            return (null, true); // a chunk list this client cannot use, or a file that changed meanwhile: the file comes whole
        }
        var plan = DeltaPlanner.Plan(list, index);
        var partPath = LocalFiles.PartPathFor(local);
        Microsoft.Win32.SafeHandles.SafeFileHandle? handle = null;
        var wire = 0L;
        try
        {
            handle = PartFile.OpenForWriting(partPath, out var created); // never through a link planted at its name
            if (!created) // a file made just now is already empty
                RandomAccess.SetLength(handle, 0);
            RandomAccess.SetLength(handle, plan.TargetLength);
            // The file is written front to back (copies between the fetched ranges as these arrive) and hashed from the
            // buffers written, so the check below reads nothing back; see AssemblyHash for why that checks what the file holds.
            var target = handle;
            using var hash = new AssemblyHash(ChecksumAlgorithm.Xxh3.CreateHasher(), plan.TargetLength);
            using var bases = new BasisHandles(plan.BasisFiles);
            async ValueTask Write(long offset, ReadOnlyMemory<byte> data, CancellationToken ct)
            {
                var writing = RandomAccess.WriteAsync(target, data, offset, ct);
                hash.Written(data.Span, offset, (at, buffer) => RandomAccess.Read(target, buffer.Span, at));
                await writing.ConfigureAwait(false);
            }
            var assembly = new DeltaAssembly(plan.Steps, bases.ReadAsync, (offset, buffer, ct) => RandomAccess.ReadAsync(target, buffer, offset, ct), Write);
            var ranges = plan.Steps.OfType<WriteNewChunksStep>().Select(s => (s.TargetOffset, s.Length)).ToList();
            wire = await Client.FetchRangesAsync(RemotePath.Normalize(file.RemotePath), ranges, handle, shaping, observer.DataMoved, cancellationToken, assembly, hash)
                .ConfigureAwait(false);
            await assembly.FinishAsync(cancellationToken).ConfigureAwait(false);

            using var whole = ChecksumAlgorithm.Xxh3.CreateHasher();
            var assembled = hash.IsComplete ? hash.GetHash() : null;
            if (assembled is null)
            {
                await ChunkHashes.ComputeAsync((buffer, position, token) => RandomAccess.ReadAsync(target, buffer, position, token),
                    plan.TargetLength, 0, ChecksumAlgorithm.Xxh3, whole, cancellationToken).ConfigureAwait(false);
                assembled = whole.GetHashAndReset();
            }
            if (!string.Equals(Convert.ToHexStringLower(assembled), message.Hash, StringComparison.OrdinalIgnoreCase))
            {
                handle.Dispose();
                handle = null;
                PartFile.TryDelete(partPath);
                return (null, true); // a basis or the server's file changed meanwhile: fetch it whole
            }
            var committing = handle;
            handle = null;
            PartFile.Commit(committing, partPath, local, overwrite: true, file.ModifiedNs, (UnixFileMode)(file.Mode & 0x1FF));
            return (new FileSyncOutcome(file.LocalPath, null, null, wire, plan.BytesFromBasis + plan.BytesRepeated, true), false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FerryException && !Client.IsBroken)
        {
            handle?.Dispose();
            handle = null;
            if (IsMismatch(ex))
            {
                PartFile.TryDelete(partPath);
                return (null, true);
            }
            return (new FileSyncOutcome(file.LocalPath, CodeOf(ex), ex.Message, wire, 0, true), false);
        }
        finally
        {
            handle?.Dispose();
        }
    }

    /// <summary>
    /// The pull side of a touch: the local file already has the server's content (same length, same whole-file hash), so
    /// only its mode and time are set, in place; it is not rewritten. False when it differs or its attributes cannot be
    /// set, and the file then comes as a delta, whose commit sets them.
    /// </summary>
    private static bool TrySettleInPlace(FilePull file, string local, (string Hash, long Length)? destination, ChunkListMessage message)
    {
        if (destination is not { } here || here.Length != message.Size || message.Size != file.Size
            || !string.Equals(here.Hash, message.Hash, StringComparison.OrdinalIgnoreCase))
            return false;
        try
        {
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(local, (UnixFileMode)(file.Mode & 0x1FF));
            LocalEntryStat.SetModifiedTime(local, file.ModifiedNs);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>A local file's whole-content hash (hex) and chunk list, through the hash cache when the options give one.</summary>
    private static async Task<(string Hash, IReadOnlyList<Chunk> Chunks)> ChunkLocalAsync(string path, ChunkingParameters chunking, FileSyncOptions options,
        CancellationToken cancellationToken)
    {
        if (options.LocalDigester is { } digester)
        {
            var result = await digester.DigestAsync(path, chunking, cancellationToken).ConfigureAwait(false);
            if (result.ChangedWhileReading)
                throw new IOException($"'{path}' changed while it was being read.");
            return (result.Digest.ContentHash.ToString("x32", System.Globalization.CultureInfo.InvariantCulture), result.Digest.Chunks!);
        }
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        var hasher = new XxHash128();
        var chunks = new List<Chunk>();
        await foreach (var chunk in new FastCdcChunker(chunking).ChunkFileAsync(handle, RandomAccess.GetLength(handle), 1, hasher, cancellationToken: cancellationToken).ConfigureAwait(false))
            chunks.Add(chunk);
        return (Convert.ToHexStringLower(hasher.GetHashAndReset()), chunks);
    }

    private static RangeShaping Shaping(FileSyncOptions options) =>
        new(options.Compress, options.BandwidthLimit is { } limit ? new BandwidthLimiter(limit) : null);

    private static bool IsMismatch(Exception? error) => error is FerryException { Code: FerryErrorCode.ChecksumMismatch };

    private static string CodeOf(Exception error) => error is FerryRemoteException remote ? remote.WireCode
        : error is FerryException ferry ? ferry.Code.ToWire()
        : FerryErrorCode.IoError.ToWire();

    /// <summary>Turns the pipeline's per-file reports into <see cref="IFileSyncObserver.FileFinished"/>, except a delta's mismatch, which is tried again whole.</summary>
    private sealed class PushObserver(IReadOnlyList<PutItem> items, IFileSyncObserver observer) : TransferObserver
    {
        private readonly Dictionary<FileTransfer, PutItem> _byFile = items.ToDictionary<PutItem, FileTransfer, PutItem>(i => i.File, i => i, ReferenceEqualityComparer.Instance);

        public override void OnCompleted(FileTransfer file, TransferResult result)
        {
            if (_byFile.TryGetValue(file, out var item))
                observer.FileFinished(PushOutcome(item, 0));
        }

        public override void OnFailed(FileTransfer file, Exception error)
        {
            if (_byFile.TryGetValue(file, out var item) && !(item.Basis is not null && IsMismatch(error)))
                observer.FileFinished(PushOutcome(item, 0) with { ErrorCode = CodeOf(error), ErrorMessage = error.Message });
        }
    }
}
