using Ferry.Sync.Filtering;

namespace Ferry.Client.Sync;

/// <summary>One sync: which way, between which folders, and what it may do.</summary>
internal sealed record SyncRequest
{
    public required SyncDirection Direction { get; init; }

    /// <summary>The local folder (source of a push, destination of a pull).</summary>
    public required string LocalRoot { get; init; }

    /// <summary>The remote folder, relative to the user's root (§5.1).</summary>
    public required string RemoteRoot { get; init; }

    /// <summary>Command-line filter rules (.ferryignore files apply in any case).</summary>
    public SyncFilter Filter { get; init; } = SyncFilter.NoRules;

    /// <summary>Remove destination entries the source lacks, after everything else succeeded.</summary>
    public bool Delete { get; init; }

    /// <summary>Refuse to delete more than this many entries; null for no limit.</summary>
    public int? MaxDelete { get; init; }

    /// <summary>Compare whole-file hashes instead of size and time.</summary>
    public bool Checksum { get; init; }

    /// <summary>Report the plan without changing anything.</summary>
    public bool DryRun { get; init; }

    /// <summary>How files move (compression, bandwidth, the local hash cache).</summary>
    public FileSyncOptions Transfer { get; init; } = new();
}
