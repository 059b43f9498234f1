using System.Net;
using System.Net.Sockets;

namespace Ferry.Server.Auth;

/// <summary>
/// Counts failed logins in a sliding window, per client network and across the server. A network past its limit is
/// refused without its proof being checked until the window moves on; past the server-wide budget, every network
/// that failed at all lately is refused too, while a network with a clean record still gets its logins checked (so a
/// distributed guesser cannot lock real users out). Memory is bounded: entries whose failures have all left the
/// window are pruned, and at most <c>maxTrackedNetworks</c> networks are remembered (the one that failed longest ago is
/// forgotten first).
/// </summary>
/// <remarks>
/// A network is the exact address for IPv4 and the /64 prefix for IPv6: one IPv6 subscriber usually holds a whole /64,
/// so keying by exact address would give an attacker 2^64 fresh identities. IPv4-mapped IPv6 addresses count as the
/// IPv4 address they carry.
/// </remarks>
public sealed class AuthThrottle
{
    private readonly int _maxFailuresPerNetwork;
    private readonly int _maxFailuresTotal;
    private readonly int _maxTrackedNetworks;
    private readonly TimeSpan _window;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<IPAddress, Queue<long>> _failures = [];
    private readonly Queue<long> _allFailures = new();
    private long _nextPrune;

    /// <param name="maxFailuresPerNetwork">Failures one network may have in the window before it is refused.</param>
    /// <param name="window">How long a failure counts.</param>
    /// <param name="time">The clock.</param>
    /// <param name="maxFailuresTotal">Failures across the server in the window before networks that failed lately are refused.</param>
    /// <param name="maxTrackedNetworks">Networks remembered at most.</param>
    public AuthThrottle(int maxFailuresPerNetwork, TimeSpan window, TimeProvider time, int maxFailuresTotal = 100, int maxTrackedNetworks = 10_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFailuresPerNetwork, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFailuresTotal, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTrackedNetworks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        _maxFailuresPerNetwork = maxFailuresPerNetwork;
        _maxFailuresTotal = maxFailuresTotal;
        _maxTrackedNetworks = maxTrackedNetworks;
        _window = window;
        _time = time;
    }

    /// <summary>Networks remembered now (failures inside the window; for tests and diagnostics).</summary>
    public int TrackedNetworks
    {
        get
        {
            lock (_gate)
                return _failures.Count;
        }
    }

    /// <summary>True when a login from <paramref name="address"/> must be refused without checking it.</summary>
    public bool IsThrottled(IPAddress address)
    {
        var key = NetworkOf(address);
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            Trim(_allFailures, now);
            if (!_failures.TryGetValue(key, out var times))
                return false;
            Trim(times, now);
            if (times.Count == 0)
            {
                _failures.Remove(key);
                return false;
            }
            return times.Count >= _maxFailuresPerNetwork || _allFailures.Count >= _maxFailuresTotal;
        }
    }

    public void RecordFailure(IPAddress address)
    {
        var key = NetworkOf(address);
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            PruneNowAndThen(now);
            if (!_failures.TryGetValue(key, out var times))
            {
                if (_failures.Count >= _maxTrackedNetworks)
                    ForgetLongestAgo();
                _failures[key] = times = new Queue<long>();
            }
            Trim(times, now);
            times.Enqueue(now);
            // Only as many as the limit are needed to know the network is over it: a flood costs no more memory.
            while (times.Count > _maxFailuresPerNetwork)
                times.Dequeue();
            Trim(_allFailures, now);
            _allFailures.Enqueue(now);
            while (_allFailures.Count > _maxFailuresTotal)
                _allFailures.Dequeue();
        }
    }

    /// <summary>The key a client address is counted under: the IPv4 address itself, or the IPv6 /64 it lies in.</summary>
    public static IPAddress NetworkOf(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            return address.MapToIPv4();
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
            return address;
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes); // scope id dropped too: fe80::1%eth0 and fe80::1%eth1 are one network here
    }

    /// <summary>Drops networks whose failures all left the window, at most once per window (each pass walks the table).</summary>
    private void PruneNowAndThen(long now)
    {
        if (now < _nextPrune)
            return;
        _nextPrune = now + (long)(_window.TotalSeconds * _time.TimestampFrequency);
        List<IPAddress>? stale = null;
        foreach (var (key, times) in _failures)
        {
            Trim(times, now);
            if (times.Count == 0)
                (stale ??= []).Add(key);
        }
        foreach (var key in stale ?? [])
            _failures.Remove(key);
    }

    private void ForgetLongestAgo()
    {
        var oldestKey = default(IPAddress);
        var oldest = long.MaxValue;
        foreach (var (key, times) in _failures)
        {
            var last = times.Count == 0 ? long.MinValue : times.Last();
            if (last < oldest)
            {
                oldest = last;
                oldestKey = key;
            }
        }
        if (oldestKey is not null)
            _failures.Remove(oldestKey);
    }

    private void Trim(Queue<long> times, long now)
    {
        while (times.Count > 0 && _time.GetElapsedTime(times.Peek(), now) > _window)
            times.Dequeue();
    }
}
