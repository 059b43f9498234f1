using Ferry.Server.Hosting;

namespace Ferry.Server.Exec;

/// <summary>Caps the commands running at once across the server.</summary>
public sealed class ExecLimiter(FerryServerOptions options)
{
    private readonly SemaphoreSlim _slots = new(options.MaxConcurrentExec, options.MaxConcurrentExec);

    /// <summary>Takes a slot, or null when all are taken.</summary>
    public IDisposable? TryEnter() => _slots.Wait(0) ? new Slot(_slots) : null;

    private sealed class Slot(SemaphoreSlim slots) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                slots.Release();
        }
    }
}
