namespace Ferry.Server.Exec;

/// <summary>The output cap shared by a command's stdout and stderr: what may still pass, and whether anything was cut.</summary>
internal sealed class OutputBudget(long limit)
{
    private long _left = limit;
    private int _truncated;

    public long Limit { get; } = limit;

    public bool Truncated => Volatile.Read(ref _truncated) == 1;

    /// <summary>How many of <paramref name="wanted"/> bytes may pass; fewer means the rest is cut.</summary>
    public int Take(int wanted)
    {
        while (true)
        {
            var left = Volatile.Read(ref _left);
            var granted = (int)Math.Min(wanted, left);
            if (Interlocked.CompareExchange(ref _left, left - granted, left) != left)
                continue; // the other stream took some meanwhile
            if (granted < wanted)
                Interlocked.Exchange(ref _truncated, 1);
            return granted;
        }
    }
}
