namespace Ferry.Client.Sync;

/// <summary>
/// Told what a sync does, in plan order. <see cref="DataMoved"/> may come from transfer tasks at any time, so
/// implementations must be thread-safe; the other calls come one at a time.
/// </summary>
internal interface ISyncObserver
{
    /// <summary>The plan is made; nothing has been changed yet.</summary>
    void Planned(SyncPlan plan);

    /// <summary>An entry the sync leaves alone (said in a dry run too).</summary>
    void Skipped(SyncSkip skip);

    /// <summary>An itemized step is done (in a dry run: would be done), in plan order.</summary>
    void Done(SyncAction action);

    /// <summary>A step, or an entry that could not be read or applied, failed.</summary>
    void Failed(SyncProblem problem);

    /// <summary>More file data crossed the connection (reused bytes never count).</summary>
    void DataMoved(long bytes);
}
