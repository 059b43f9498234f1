using System.Diagnostics.CodeAnalysis;

namespace Ferry.Sync.Caching;

/// <summary>
/// Whole-file hashes and chunk lists by <see cref="FileIdentity"/>, so that an unchanged file is never read twice, within
/// a run or across runs. Bounded by <see cref="HashCacheLimits"/> with least-recently-used eviction.
/// </summary>
/// <remarks>
/// <para>Persistence: <see cref="LoadAsync"/> reads the file once; <see cref="SaveAsync"/> writes a new file next to it
/// and renames it into place (rename(2) is atomic), so a reader sees the old or the new file, never a mix, and a crash
/// leaves at worst a stray temporary file. A file that is not a valid cache of this version is ignored and replaced at
/// the next save. Deleting the file at any time only costs re-reading files.</para>
/// <para>Concurrency: every member is safe to call from several threads. Two processes sharing the file do not corrupt it:
/// each writes its own temporary file, and the last rename wins (entries only the other process learned are lost, which
/// costs a re-read, never a wrong answer).</para>
/// </remarks>
public sealed class HashCache
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(ulong Device, ulong Inode), LinkedListNode<FileDigest>> _byFile = [];
    private readonly LinkedList<FileDigest> _recency = new(); // first = least recently used
    private long _bytes;
    private long _changes; // bumped by every store, removal and eviction; a save that saw it unchanged leaves the cache clean
    private long _savedChanges;

    /// <summary>An empty cache that lives in memory only (<see cref="SaveAsync"/> does nothing).</summary>
    public HashCache(HashCacheLimits? limits = null)
        : this(null, limits ?? HashCacheLimits.Default, HashCacheLoadOutcome.Missing)
    {
    }

    private HashCache(string? filePath, HashCacheLimits limits, HashCacheLoadOutcome loadOutcome)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limits.MaxEntries, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(limits.MaxBytes, 0L);
        FilePath = filePath;
        Limits = limits;
        LoadOutcome = loadOutcome;
        // An ignored file is rewritten by the next save even if nothing is learned meanwhile.
        _savedChanges = loadOutcome == HashCacheLoadOutcome.Ignored ? -1 : 0;
    }

    /// <summary>Where the cache is saved, or null for a cache in memory only.</summary>
    public string? FilePath { get; }

    /// <summary>The bounds the cache keeps to.</summary>
    public HashCacheLimits Limits { get; }

    /// <summary>What loading found.</summary>
    public HashCacheLoadOutcome LoadOutcome { get; }

    /// <summary>Number of files in the cache.</summary>
    public int Count
    {
        get { lock (_gate) return _byFile.Count; }
    }

    /// <summary>Size of the entries as counted against <see cref="HashCacheLimits.MaxBytes"/>.</summary>
    public long Bytes
    {
        get { lock (_gate) return _bytes; }
    }

    /// <summary>
    /// Opens the cache saved at <paramref name="filePath"/>. A missing file gives an empty cache; an unreadable, damaged,
    /// truncated or foreign one is ignored (see <see cref="LoadOutcome"/>), never trusted.
    /// </summary>
    public static async Task<HashCache> LoadAsync(string filePath, HashCacheLimits? limits = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filePath);
        limits ??= HashCacheLimits.Default;
        byte[] content;
        try
        {
            await using var stream = new FileStream(filePath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, useAsync: true);
            // The file is read whole, so its size is checked first: a huge file at the path must not be loaded into memory.
            if (stream.Length > HashCacheFormat.MaxFileLength(limits))
                return new HashCache(filePath, limits, HashCacheLoadOutcome.Ignored);
            content = new byte[stream.Length];
            await stream.ReadExactlyAsync(content, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return new HashCache(filePath, limits, HashCacheLoadOutcome.Missing);
        }
        catch (DirectoryNotFoundException)
        {
            return new HashCache(filePath, limits, HashCacheLoadOutcome.Missing);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Includes EndOfStreamException: a file shorter than it said.
            return new HashCache(filePath, limits, HashCacheLoadOutcome.Ignored);
        }
        if (!HashCacheFormat.TryRead(content, out var entries))
            return new HashCache(filePath, limits, HashCacheLoadOutcome.Ignored);
        var cache = new HashCache(filePath, limits, HashCacheLoadOutcome.Loaded);
        lock (cache._gate)
        {
            foreach (var entry in entries)
                cache.StoreLocked(entry);
            cache._savedChanges = cache._changes;
        }
        return cache;
    }

    /// <summary>
    /// The digest of the file version <paramref name="identity"/> names, if cached. An entry for the same file
    /// (device and inode) but another size or time is stale: it is dropped and the lookup misses.
    /// </summary>
    public bool TryGet(FileIdentity identity, [NotNullWhen(true)] out FileDigest? digest)
    {
        lock (_gate)
        {
            digest = null;
            if (!_byFile.TryGetValue(identity.FileKey, out var node))
                return false;
            if (node.Value.Identity != identity)
            {
                RemoveLocked(node);
                return false;
            }
            _recency.Remove(node);
            _recency.AddLast(node);
            digest = node.Value;
            return true;
        }
    }

    /// <summary>Caches <paramref name="digest"/> as the most recently used entry, replacing any entry for the same file.</summary>
    public void Store(FileDigest digest)
    {
        ArgumentNullException.ThrowIfNull(digest);
        lock (_gate)
            StoreLocked(digest);
    }

    /// <summary>Forgets the file <paramref name="identity"/> names (any version).</summary>
    public void Remove(FileIdentity identity)
    {
        lock (_gate)
        {
            if (_byFile.TryGetValue(identity.FileKey, out var node))
                RemoveLocked(node);
        }
    }

    /// <summary>
    /// Writes the cache to <see cref="FilePath"/> if anything changed since it was loaded or last saved: to a temporary
    /// file in the same folder (created with mode 0600: hashes say something about private files), flushed to disk, then
    /// renamed over the old file.
    /// </summary>
    public async Task SaveAsync(CancellationToken cancellationToken = default)
    {
        if (FilePath is null)
            return;
        List<FileDigest> snapshot;
        long changes;
        lock (_gate)
        {
            if (_changes == _savedChanges)
                return;
            snapshot = [.. _recency];
            changes = _changes;
        }
        var folder = Path.GetDirectoryName(Path.GetFullPath(FilePath))!;
        Directory.CreateDirectory(folder);
        var temporary = Path.Combine(folder, $".{Path.GetFileName(FilePath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            Options = FileOptions.Asynchronous,
            BufferSize = 0,
        };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            await using (var stream = new FileStream(temporary, options))
            {
                await HashCacheFormat.WriteAsync(stream, snapshot, cancellationToken).ConfigureAwait(false);
                // Durable before it gets the real name: after a crash the name holds a whole old or whole new file.
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, FilePath, overwrite: true);
        }
        catch
        {
            try { File.Delete(temporary); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
        lock (_gate)
        {
            if (_savedChanges < changes)
                _savedChanges = changes;
        }
    }

    private void StoreLocked(FileDigest digest)
    {
        var size = HashCacheFormat.EntrySize(digest);
        if (_byFile.TryGetValue(digest.Identity.FileKey, out var existing))
            RemoveLocked(existing);
        if (size > Limits.MaxBytes || Limits.MaxEntries == 0)
            return;
        _byFile[digest.Identity.FileKey] = _recency.AddLast(digest);
        _bytes += size;
        _changes++;
        while (_byFile.Count > Limits.MaxEntries || _bytes > Limits.MaxBytes)
            RemoveLocked(_recency.First!);
    }

    private void RemoveLocked(LinkedListNode<FileDigest> node)
    {
        _recency.Remove(node);
        _byFile.Remove(node.Value.Identity.FileKey);
        _bytes -= HashCacheFormat.EntrySize(node.Value);
        _changes++;
    }
}
