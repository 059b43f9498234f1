using System.Collections.Concurrent;

namespace Ferry.Server.Auth;

/// <summary>Counts open connections per key (a user, an address) against a limit.</summary>
public sealed class ConnectionCounter<TKey> where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, int> _counts = new();

    /// <summary>Takes a slot, or returns null when <paramref name="key"/> already holds <paramref name="limit"/>.</summary>
    public IDisposable? TryAcquire(TKey key, int limit)
    {
        while (true)
        {
            var current = _counts.GetOrAdd(key, 0);
            if (current >= limit)
                return null;
            if (_counts.TryUpdate(key, current + 1, current))
                return new Slot(this, key);
        }
    }

    public int CountOf(TKey key) => _counts.TryGetValue(key, out var n) ? n : 0;

    private void Release(TKey key)
    {
        while (true)
        {
            var current = _counts[key];
            if (current <= 1 ? _counts.TryRemove(new KeyValuePair<TKey, int>(key, current)) : _counts.TryUpdate(key, current - 1, current))
                return;
        }
    }

    private sealed class Slot(ConnectionCounter<TKey> owner, TKey key) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                owner.Release(key);
        }
    }
}
