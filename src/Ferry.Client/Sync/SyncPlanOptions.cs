namespace Ferry.Client.Sync;

/// <summary>What the planner is allowed to do.</summary>
internal sealed record SyncPlanOptions
{
    /// <summary>Remove destination entries the source lacks.</summary>
    public bool Delete { get; init; }

    /// <summary>Refuse to delete more than this many entries (the plan then deletes nothing); null for no limit.</summary>
    public int? MaxDelete { get; init; }

    /// <summary>Compare files by whole-file hash instead of size and time (entries carry <c>Hash</c>).</summary>
    public bool Checksum { get; init; }

    /// <summary>The destination root does not exist yet: the plan starts by creating it.</summary>
    public bool DestinationMissing { get; init; }

    /// <summary>
    /// Destination folders that hold excluded entries: never deleted, since removing them would remove what the filter
    /// protects.
    /// </summary>
    public IReadOnlySet<string> ProtectedFolders { get; init; } = new HashSet<string>(StringComparer.Ordinal);
}
