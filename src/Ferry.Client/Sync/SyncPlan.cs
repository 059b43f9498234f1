namespace Ferry.Client.Sync;

/// <summary>What a sync will do, in the order it does it (see <see cref="SyncPlanner"/>).</summary>
internal sealed record SyncPlan
{
    public required IReadOnlyList<SyncAction> Actions { get; init; }

    public required IReadOnlyList<SyncSkip> Skipped { get; init; }

    public required IReadOnlyList<SyncProblem> Problems { get; init; }

    /// <summary>Entries --delete would remove when that is more than --max-delete allows (none are then planned); else null.</summary>
    public int? DeletesRefused { get; init; }

    /// <summary>--delete was asked for and the destination has entries the source lacks, but a problem stops deletions.</summary>
    public bool DeletesBlocked { get; init; }

    /// <summary>Source files compared.</summary>
    public int FilesChecked { get; init; }

    /// <summary>Total size of the source files.</summary>
    public long TotalSize { get; init; }

    /// <summary>Size of the files to send: at most this many data bytes cross the connection (deltas send less).</summary>
    public long TransferSize => Actions.Where(a => a.Kind == SyncActionKind.TransferFile).Sum(a => a.Size);
}
