namespace Ferry.Sync.Caching;

/// <summary>
/// How much the hash cache keeps; beyond either bound the least recently used entries go. Bytes are counted as stored in
/// the cache file (57 bytes an entry, 20 more per chunk); in memory an entry takes about 1.6 times that.
/// </summary>
public sealed record HashCacheLimits
{
    /// <summary>The defaults: 200 000 files, 64 MiB (the chunk lists of about 50 GiB of files at 16 KiB chunks).</summary>
    public static HashCacheLimits Default { get; } = new();

    /// <summary>Most entries (files) kept.</summary>
    public int MaxEntries { get; init; } = 200_000;

    /// <summary>Most bytes kept, as counted in the cache file.</summary>
    public long MaxBytes { get; init; } = 64L * 1024 * 1024;
}
