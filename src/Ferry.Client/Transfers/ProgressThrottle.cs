namespace Ferry.Client.Transfers;

/// <summary>
/// Reports a file's progress at most once per <see cref="Step"/> bytes, so observers do not run on every buffer. Safe to
/// call from several connections at once (parallel ranges add their bytes); reports are made under a lock, in order and
/// before the transfer completes, so an observer never sees progress after completion or going backwards.
/// </summary>
internal sealed class ProgressThrottle(FileTransfer file, TransferObserver observer)
{
    private const long Step = 1024 * 1024;
    private readonly Lock _lock = new();
    private long _last = -1;
    private long _done;

    /// <summary>The file's bytes done so far (including a resumed prefix).</summary>
    public long Done
    {
        get
        {
            lock (_lock)
                return _done;
        }
    }

    /// <summary>Sets the bytes done to <paramref name="done"/> (single-stream transfers, which know their position).</summary>
    public void Report(long done)
    {
        lock (_lock)
        {
            _done = done;
            if (done - _last < Step)
                return;
            _last = done;
            observer.OnProgress(file, done);
        }
    }

    /// <summary>Adds <paramref name="bytes"/> done (ranges that move at once).</summary>
    public void Add(long bytes)
    {
        lock (_lock)
        {
            _done += bytes;
            if (_done - _last < Step)
                return;
            _last = _done;
            observer.OnProgress(file, _done);
        }
    }

    /// <summary>Reports <paramref name="done"/> unless it was the last value reported.</summary>
    public void Finish(long done)
    {
        lock (_lock)
        {
            _done = done;
            if (done == _last)
                return;
            _last = done;
            observer.OnProgress(file, done);
        }
    }
}
