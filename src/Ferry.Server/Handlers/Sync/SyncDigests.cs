using System.IO.Hashing;
using System.Text;
using Ferry.Server.Hosting;
using Ferry.Server.Storage;
using Ferry.Sync.Caching;
using Ferry.Sync.Chunking;

namespace Ferry.Server.Handlers.Sync;

/// <summary>
/// The server's hash caches for scan, chunks and delta put (docs/protocol.md §5.9.1): one per user's root, loaded on first
/// use from <c>hash-cache/</c> under the state folder and saved after each command that learned something. Each is
/// bounded (<see cref="Limits"/>), and so is how many are held at once; a deleted cache file only costs re-reading files.
/// </summary>
internal sealed class SyncDigests(FerryServerOptions options)
{
    /// <summary>Per root: enough for a large tree's hashes and the chunk lists of its recently synced files.</summary>
    public static readonly HashCacheLimits Limits = new() { MaxEntries = 200_000, MaxBytes = 16L * 1024 * 1024 };

    /// <summary>
    /// Readers that chunk one large file at once (one 64 MiB segment each). A delta put waits for its basis's chunk list
    /// before anything else can happen, so on a machine with idle cores the wait shrinks with them; at most 4, so that one
    /// sync does not take every core of a busy server.
    /// </summary>
    private static readonly int DigestWorkers = Math.Clamp(Environment.ProcessorCount, 1, 4);

    /// <summary>Caches held in memory at once; past that the least recently used is dropped (it was saved when it changed).</summary>
    private const int MaxHeld = 8;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, (Task<HashCache> Cache, long LastUsed)> _held = new(StringComparer.Ordinal);
    private long _clock;

    private string Folder => Path.Combine(options.StateDirectory, "hash-cache");

    /// <summary>The cache of <paramref name="store"/>'s root.</summary>
    public Task<HashCache> ForAsync(IFileStore store, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var key = store.Description;
            if (_held.TryGetValue(key, out var held))
            {
                _held[key] = (held.Cache, ++_clock);
                return held.Cache;
            }
            if (_held.Count >= MaxHeld)
                _held.Remove(_held.MinBy(pair => pair.Value.LastUsed).Key);
            var file = Path.Combine(Folder, Convert.ToHexStringLower(XxHash128.Hash(Encoding.UTF8.GetBytes(key))) + ".cache");
            var loading = LoadOrEmptyAsync(file);
            _held[key] = (loading, ++_clock);
            return loading;
        }
    }

    /// <summary>The saved cache, or one in memory only when the file cannot be read (the scan still works, it reads more).</summary>
    private static async Task<HashCache> LoadOrEmptyAsync(string file)
    {
        try
        {
            return await HashCache.LoadAsync(file, Limits, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new HashCache(Limits);
        }
    }

    /// <summary>
    /// The whole-file hash (and with <paramref name="chunking"/> the chunk list) of an open regular file, from the cache
    /// when it knows the file. The cache is keyed by device and inode, so only a file of the local file system can be
    /// digested; another store's file is io_error.
    /// </summary>
    /// <param name="workers">Readers for one large file; by default as many as a client waits on is worth (up to 4).</param>
    public async Task<FileDigest> DigestAsync(HashCache cache, IStoredFile file, ChunkingParameters? chunking, CancellationToken cancellationToken, int? workers = null)
    {
        var local = file as ILocalFileAccess
            ?? throw new Protocol.Errors.FerryException(Protocol.Errors.FerryErrorCode.IoError, "This server's store cannot hash or chunk files.");
        var result = await new FileDigester(cache, workers ?? DigestWorkers).DigestAsync(local.Handle, chunking, cancellationToken).ConfigureAwait(false);
        return result.Digest;
    }

    /// <summary>Saves what the cache learned; a failure to save only costs a later re-read.</summary>
    public async Task SaveAsync(HashCache cache, CancellationToken cancellationToken)
    {
        try
        {
            if (!Directory.Exists(Folder))
                DataOwnership.Private.CreateDirectory(Folder);
            await cache.SaveAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    public static string Hex(UInt128 hash) => hash.ToString("x32", System.Globalization.CultureInfo.InvariantCulture);
}
