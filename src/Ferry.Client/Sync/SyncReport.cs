namespace Ferry.Client.Sync;

/// <summary>What a sync did (for a dry run: what it would do; bytes are then 0).</summary>
internal sealed record SyncReport
{
    public required SyncPlan Plan { get; init; }

    public bool DryRun { get; init; }

    /// <summary>Files sent (new or changed) successfully.</summary>
    public int FilesChanged { get; init; }

    /// <summary>Entries deleted.</summary>
    public int Deleted { get; init; }

    /// <summary>Itemized steps done.</summary>
    public int ItemsDone { get; init; }

    /// <summary>File data that crossed the connection.</summary>
    public long BytesSent { get; init; }

    /// <summary>Bytes of new files the receiver took from files it had.</summary>
    public long BytesReused { get; init; }

    /// <summary>Everything that failed, in the order it happened; empty on full success.</summary>
    public required IReadOnlyList<SyncProblem> Errors { get; init; }

    /// <summary>True when --delete was asked for and not carried out because something failed.</summary>
    public bool DeleteSkipped { get; init; }

    /// <summary>Source files compared.</summary>
    public int FilesChecked => Plan.FilesChecked;

    /// <summary>Total size of the source files.</summary>
    public long TotalSize => Plan.TotalSize;

    /// <summary>Total size divided by bytes sent, as rsync's speedup; null when nothing was sent.</summary>
    public double? SpeedUp => BytesSent > 0 ? (double)TotalSize / BytesSent : null;
}
