namespace Ferry.Sync.Caching;

/// <summary>What <see cref="HashCache.LoadAsync"/> found at the cache path.</summary>
public enum HashCacheLoadOutcome
{
    /// <summary>No cache file: the cache starts empty.</summary>
    Missing = 0,
    /// <summary>A valid cache file was read.</summary>
    Loaded = 1,
    /// <summary>
    /// A file was there but was not a valid cache (truncated, damaged, another version, too large): it was ignored and the
    /// cache starts empty; the next save replaces it.
    /// </summary>
    Ignored = 2,
}
