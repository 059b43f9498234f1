using System.Buffers;
using System.IO.Hashing;
using Ferry.Sync.Chunking;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Sync.Caching;

/// <summary>
/// Computes a file's whole-content XXH3-128 and, when asked for, its chunk list, answering from a <see cref="HashCache"/>
/// when the file is unchanged (same <see cref="FileIdentity"/>) and caching what it reads otherwise.
/// </summary>
public sealed class FileDigester
{
    /// <summary>
    /// A file whose modification or change time is this close to the moment it is read is digested but not cached. File
    /// systems stamp times from a coarse clock (a few milliseconds on Linux, seconds on some), so a second write of the
    /// same size just after the first can leave every field of the identity equal; once the times are older than the
    /// read by more than the clock's step, any later write must change them. The same rule as git's "racily clean" index.
    /// </summary>
    public static readonly TimeSpan RacyWindow = TimeSpan.FromSeconds(2);

    private const int HashReadBlockSize = 1024 * 1024;

    private readonly Lazy<Task<HashCache>> _cache;
    private readonly int _workers;
    private readonly TimeProvider _time;
    private readonly Func<string, SafeFileHandle> _openForReading;

    /// <summary>Creates a digester over <paramref name="cache"/>.</summary>
    /// <param name="cache">Where digests are looked up and stored.</param>
    /// <param name="workers">Concurrent readers for chunking one large file (64 MiB segments); 1 reads sequentially.</param>
    /// <param name="timeProvider">The clock for <see cref="RacyWindow"/>; the system clock by default.</param>
    /// <param name="openForReading">Opens a file for reading; by default <see cref="File.OpenHandle"/>. Tests count opens.</param>
    public FileDigester(HashCache cache, int workers = 1, TimeProvider? timeProvider = null, Func<string, SafeFileHandle>? openForReading = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        _cache = new Lazy<Task<HashCache>>(Task.FromResult(cache));
        _workers = workers;
        _time = timeProvider ?? TimeProvider.System;
        _openForReading = openForReading ?? (path => File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
    }

    /// <summary>
    /// Creates a digester whose cache is opened by <paramref name="openCache"/> the first time a file has to be digested,
    /// and never when none has: a saved cache can hold the chunk lists of large files, and a run that compares only sizes
    /// and times should not pay for reading it.
    /// </summary>
    /// <param name="openCache">Called at most once, on the first digest.</param>
    /// <param name="workers">Concurrent readers for chunking one large file (64 MiB segments); 1 reads sequentially.</param>
    public FileDigester(Func<Task<HashCache>> openCache, int workers = 1)
    {
        ArgumentNullException.ThrowIfNull(openCache);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        _cache = new Lazy<Task<HashCache>>(openCache);
        _workers = workers;
        _time = TimeProvider.System;
        _openForReading = path => File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
    }

    /// <summary>
    /// The digest of the regular file at <paramref name="path"/> (a symbolic link is not followed). With
    /// <paramref name="chunking"/>, the digest also holds the chunk list under those parameters. The file is read only
    /// when the cache has no digest for its current identity (or none with those chunks), and then in one pass (or in
    /// parallel segments plus a hashing pass, with several workers).
    /// </summary>
    /// <exception cref="FileNotFoundException">No regular file is at <paramref name="path"/>.</exception>
    /// <exception cref="IOException">The file could not be read.</exception>
    public async Task<FileDigestResult> DigestAsync(string path, ChunkingParameters? chunking = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!FileStat.IsSupported)
            return await ReadUncachedAsync(path, chunking, cancellationToken).ConfigureAwait(false);
        if (!FileStat.TryGetRegularFile(path, out var before))
            throw new FileNotFoundException($"'{path}' is not a regular file.", path);
        var cache = await _cache.Value.ConfigureAwait(false);
        if (cache.TryGet(before, out var cached) && (chunking is null || cached.HasChunksFor(chunking)))
            return new FileDigestResult(cached, FromCache: true, ChangedWhileReading: false);

        var readStartedNs = (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
        using var file = _openForReading(path);
        // The name may have been pointed at another file (or a link) between the status call and the open.
        var opened = FileStat.Get(file);
        var (contentHash, chunks) = await ReadAsync(file, opened.Size, chunking, cancellationToken).ConfigureAwait(false);
        var after = FileStat.Get(file);
        var changed = opened != before || after != before;
        var digest = new FileDigest(before, contentHash, chunks is null ? null : chunking, chunks);
        var racy = Math.Max(before.ModifiedNs, before.ChangedNs) > readStartedNs - RacyWindow.Ticks * 100;
        if (!changed && !racy)
            cache.Store(digest);
        return new FileDigestResult(digest, FromCache: false, ChangedWhileReading: changed);
    }

    /// <summary>
    /// The digest of the regular file <paramref name="file"/> has open (a caller that opens files its own way, beneath a
    /// folder's descriptor, say). The cache is keyed and checked as for a path; the handle is read, never closed.
    /// </summary>
    /// <exception cref="FileNotFoundException">The handle is not a regular file.</exception>
    /// <exception cref="IOException">The file could not be read.</exception>
    public async Task<FileDigestResult> DigestAsync(SafeFileHandle file, ChunkingParameters? chunking = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (!FileStat.IsSupported)
        {
            var length = RandomAccess.GetLength(file);
            var (hash, list) = await ReadAsync(file, length, chunking, cancellationToken).ConfigureAwait(false);
            return new FileDigestResult(new FileDigest(new FileIdentity(0, 0, length, 0, 0), hash, list is null ? null : chunking, list), FromCache: false, ChangedWhileReading: false);
        }
        if (!FileStat.TryGetRegular(file, out var before))
            throw new FileNotFoundException("The open file is not a regular file.");
        var cache = await _cache.Value.ConfigureAwait(false);
        if (cache.TryGet(before, out var cached) && (chunking is null || cached.HasChunksFor(chunking)))
            return new FileDigestResult(cached, FromCache: true, ChangedWhileReading: false);

        var readStartedNs = (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
        var (contentHash, chunks) = await ReadAsync(file, before.Size, chunking, cancellationToken).ConfigureAwait(false);
        var changed = FileStat.Get(file) != before;
        var digest = new FileDigest(before, contentHash, chunks is null ? null : chunking, chunks);
        var racy = Math.Max(before.ModifiedNs, before.ChangedNs) > readStartedNs - RacyWindow.Ticks * 100;
        if (!changed && !racy)
            cache.Store(digest);
        return new FileDigestResult(digest, FromCache: false, ChangedWhileReading: changed);
    }

    private async Task<FileDigestResult> ReadUncachedAsync(string path, ChunkingParameters? chunking, CancellationToken cancellationToken)
    {
        using var file = _openForReading(path);
        var length = RandomAccess.GetLength(file);
        var (contentHash, chunks) = await ReadAsync(file, length, chunking, cancellationToken).ConfigureAwait(false);
        var identity = new FileIdentity(0, 0, length, 0, 0);
        return new FileDigestResult(new FileDigest(identity, contentHash, chunks is null ? null : chunking, chunks), FromCache: false, ChangedWhileReading: false);
    }

    private async Task<(UInt128 ContentHash, IReadOnlyList<Chunk>? Chunks)> ReadAsync(
        SafeFileHandle file, long length, ChunkingParameters? chunking, CancellationToken cancellationToken)
    {
        if (chunking is null)
            return (await HashAsync(file, length, cancellationToken).ConfigureAwait(false), null);
        var chunker = new FastCdcChunker(chunking);
        if (_workers == 1 || length <= chunking.SegmentLength)
        {
            // One sequential pass yields both the chunks and the whole-file hash.
            var hash = new XxHash128();
            var chunks = new List<Chunk>();
            await foreach (var chunk in chunker.ChunkFileAsync(file, length, workers: 1, wholeContentHash: hash, cancellationToken: cancellationToken).ConfigureAwait(false))
                chunks.Add(chunk);
            return (hash.GetCurrentHashAsUInt128(), chunks);
        }
        // XXH3 cannot be split across segments, so one reader hashes the file in order while the others chunk it; the
        // second read of each block mostly comes from the page cache.
        var hashing = HashAsync(file, length, cancellationToken);
        var parallelChunks = new List<Chunk>();
        await foreach (var chunk in chunker.ChunkFileAsync(file, length, _workers, cancellationToken: cancellationToken).ConfigureAwait(false))
            parallelChunks.Add(chunk);
        return (await hashing.ConfigureAwait(false), parallelChunks);
    }

    private static async Task<UInt128> HashAsync(SafeFileHandle file, long length, CancellationToken cancellationToken)
    {
        var hash = new XxHash128();
        var buffer = ArrayPool<byte>.Shared.Rent(HashReadBlockSize);
        try
        {
            for (long offset = 0; offset < length;)
            {
                var wanted = (int)Math.Min(buffer.Length, length - offset);
                var read = await RandomAccess.ReadAsync(file, buffer.AsMemory(0, wanted), offset, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                    break; // shorter than its status said: it changed, which the caller detects
                hash.Append(buffer.AsSpan(0, read));
                offset += read;
            }
            return hash.GetCurrentHashAsUInt128();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
