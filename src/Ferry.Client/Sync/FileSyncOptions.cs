using Ferry.Sync.Caching;

namespace Ferry.Client.Sync;

/// <summary>How files move during a sync.</summary>
internal sealed record FileSyncOptions
{
    /// <summary>Compress data with zstd per block, sending raw any block that does not shrink (§5.9.4). Off by default.</summary>
    public bool Compress { get; init; }

    /// <summary>Cap on data bytes sent plus received per second; null for none.</summary>
    public long? BandwidthLimit { get; init; }

    /// <summary>Files below this size always go whole (a delta would cost a round trip for little gain).</summary>
    public long WholeFileThreshold { get; init; } = 64 * 1024;

    /// <summary>Reads local files for hashes and chunk lists through the local hash cache; null reads them every time.</summary>
    public FileDigester? LocalDigester { get; init; }
}
