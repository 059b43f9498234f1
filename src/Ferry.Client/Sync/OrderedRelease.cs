namespace Ferry.Client.Sync;

/// <summary>
/// Turns a batch transfer's per-file callbacks, which may come in any order and from any task, into the sync observer's
/// calls in plan order: a finished file's line waits until every file before it has finished.
/// </summary>
internal sealed class OrderedRelease : IFileSyncObserver
{
    private readonly IReadOnlyList<SyncAction> _actions;
    private readonly ISyncObserver _observer;
    private readonly Dictionary<string, int> _indexByPath;
    private readonly FileSyncOutcome?[] _finished;
    private readonly Lock _gate = new();
    private int _next;

    public OrderedRelease(IReadOnlyList<SyncAction> actions, ISyncObserver observer, Func<string, string> destinationPath)
    {
        _actions = actions;
        _observer = observer;
        _finished = new FileSyncOutcome?[actions.Count];
        _indexByPath = new Dictionary<string, int>(actions.Count, StringComparer.Ordinal);
        for (var i = 0; i < actions.Count; i++)
            _indexByPath.TryAdd(destinationPath(actions[i].Path), i);
    }

    public void DataMoved(long bytes) => _observer.DataMoved(bytes);

    public void FileFinished(FileSyncOutcome outcome)
    {
        if (outcome is not null && _indexByPath.TryGetValue(outcome.Path, out var index))
            Finish(index, outcome);
    }

    /// <summary>Records file <paramref name="index"/> as finished (once; later calls are ignored) and releases what can go.</summary>
    public void Finish(int index, FileSyncOutcome outcome)
    {
        lock (_gate)
        {
            if (_finished[index] is not null)
                return;
            _finished[index] = outcome;
            for (; _next < _finished.Length && _finished[_next] is { } done; _next++)
            {
                if (done.Succeeded)
                    _observer.Done(_actions[_next]);
                else
                    _observer.Failed(new SyncProblem(_actions[_next].Path, done.ErrorCode!, done.ErrorMessage ?? done.ErrorCode!));
            }
        }
    }
}
