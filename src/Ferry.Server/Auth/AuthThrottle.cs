using System.Collections.Concurrent;
using System.Net;

namespace Ferry.Server.Auth;

/// <summary>
/// Counts failed authentications per address in a sliding window; past the limit the address is refused without its
/// proof being checked, until the window moves on.
/// </summary>
public sealed class AuthThrottle(int maxFailures, TimeSpan window, TimeProvider time)
{
    private readonly ConcurrentDictionary<IPAddress, Queue<long>> _failures = new();

    public bool IsThrottled(IPAddress address)
    {
        if (!_failures.TryGetValue(address, out var times))
            return false;
        lock (times)
        {
            Trim(times);
            return times.Count >= maxFailures;
        }
    }

    public void RecordFailure(IPAddress address)
    {
        var times = _failures.GetOrAdd(address, _ => new Queue<long>());
        lock (times)
        {
            Trim(times);
            times.Enqueue(time.GetTimestamp());
        }
    }

    private void Trim(Queue<long> times)
    {
        while (times.Count > 0 && time.GetElapsedTime(times.Peek()) > window)
            times.Dequeue();
    }
}
