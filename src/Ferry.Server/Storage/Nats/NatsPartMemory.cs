namespace Ferry.Server.Storage.Nats;

/// <summary>
/// The bytes a server may hold in parts on their way to the cluster, across all its uploads. A part reserves its whole
/// length before its first byte is taken (so a reserved part can always fill up and go, and the reservations can never
/// wait on each other); an upload that finds the budget spent waits, in arrival order, and its client waits with it
/// through TCP. Without the bound, many fast clients and a slow cluster would hold up to two parts per upload each.
/// </summary>
internal sealed class NatsPartMemory(long budget)
{
    private readonly Queue<(long Bytes, TaskCompletionSource Granted)> _waiting = new();
    private long _free = budget;

    public long Budget { get; } = budget;

    public async ValueTask ReserveAsync(long bytes, CancellationToken cancellationToken)
    {
        bytes = Math.Min(bytes, Budget); // a part larger than the budget still goes, alone
        TaskCompletionSource granted;
        lock (_waiting)
        {
            if (_waiting.Count == 0 && _free >= bytes)
            {
                _free -= bytes;
                return;
            }
            granted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Enqueue((bytes, granted));
        }
        try
        {
            await granted.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Granted just as it was cancelled: give it back; otherwise the grant loop skips the cancelled entry.
            if (!granted.TrySetCanceled(cancellationToken))
                Release(bytes);
            throw;
        }
    }

    public void Release(long bytes)
    {
        bytes = Math.Min(bytes, Budget);
        lock (_waiting)
        {
            _free += bytes;
            while (_waiting.TryPeek(out var next))
            {
                if (next.Granted.Task.IsCompleted)
                {
                    _waiting.Dequeue(); // cancelled while waiting
                    continue;
                }
                if (_free < next.Bytes)
                    break;
                _waiting.Dequeue();
                _free -= next.Bytes;
                if (!next.Granted.TrySetResult())
                    _free += next.Bytes; // cancelled meanwhile
            }
        }
    }
}
