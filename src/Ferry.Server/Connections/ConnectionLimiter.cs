using System.Net;
using Ferry.Protocol.Errors;
using Ferry.Server.Auth;
using Ferry.Server.Hosting;

namespace Ferry.Server.Connections;

/// <summary>
/// Decides which connections may stay, in the manner of sshd's MaxStartups and LoginGraceTime. Every accepted
/// connection takes a <see cref="ConnectionTicket"/>; until it logs in it is <em>pending</em> and counts against a
/// small budget of its own (<see cref="FerryServerOptions.MaxUnauthenticatedConnections"/>, and
/// <see cref="FerryServerOptions.MaxUnauthenticatedConnectionsPerAddress"/> per client network), and it must log in
/// within <see cref="FerryServerOptions.LoginGraceTime"/>. When a limit is reached, the idlest pending connection (of
/// that network, for a per-network limit) is shed to make room, so a flood of silent connections churns through its
/// own budget and the next real client still gets in. Only when everything is held by logged-in connections is a new
/// one refused.
/// </summary>
/// <remarks>
/// A client network is the exact IPv4 address or the IPv6 /64 (<see cref="AuthThrottle.NetworkOf"/>). All counting is
/// under one lock: admission is a few comparisons, and a shed walks only the pending connections, whose number the
/// budget bounds.
/// </remarks>
internal sealed class ConnectionLimiter
{
    private readonly FerryServerOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly HashSet<ConnectionTicket> _pending = [];
    private readonly Dictionary<IPAddress, (int All, int Pending)> _perNetwork = [];
    private int _all;

    public ConnectionLimiter(FerryServerOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
    }

    internal long Now => _time.GetTimestamp();

    /// <summary>Connections holding a ticket now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _all;
        }
    }

    /// <summary>Connections that have not logged in yet.</summary>
    public int PendingCount
    {
        get
        {
            lock (_gate)
                return _pending.Count;
        }
    }

    /// <summary>Connections shed to make room or closed at the end of their login grace time, since start.</summary>
    public long Evictions => Interlocked.Read(ref _evictions);
    private long _evictions;

    /// <summary>
    /// Admits a new connection from <paramref name="address"/>, shedding idle pending ones as needed. Returns null, with
    /// the code and message to refuse it with, when every slot it could take is held by logged-in connections.
    /// </summary>
    public ConnectionTicket? TryAdmit(IPAddress address, out FerryErrorCode refusal, out string refusalMessage)
    {
        var network = AuthThrottle.NetworkOf(address);
        List<ConnectionTicket> shed = [];
        ConnectionTicket? ticket = null;
        refusal = default;
        refusalMessage = "";
        lock (_gate)
        {
            _perNetwork.TryGetValue(network, out var counts);
            if (counts.All >= _options.MaxConnectionsPerAddress && !TryShed(network, shed))
            {
                refusal = FerryErrorCode.TooManyConnections;
                refusalMessage = $"This address already has {_options.MaxConnectionsPerAddress} logged-in connections open; close some and try again.";
            }
            else if (_all >= _options.MaxConnections && !TryShed(null, shed)) // a shed above already left _all
            {
                refusal = FerryErrorCode.ServerBusy;
                refusalMessage = $"The server is at its limit of {_options.MaxConnections} connections; try again later.";
            }
            else
            {
                // The unauthenticated budgets shed what has sat idle; when nothing has yet, the newcomer is admitted
                // over budget (the two limits above still bound the total) and the idle ones go at the next arrival.
                _perNetwork.TryGetValue(network, out counts); // a shed above may have changed them
                if (counts.Pending >= _options.MaxUnauthenticatedConnectionsPerAddress)
                    TryShed(network, shed);
                if (_pending.Count >= _options.MaxUnauthenticatedConnections)
                    TryShed(null, shed);
                ticket = new ConnectionTicket(this, network, Now);
                _pending.Add(ticket);
                _all++;
                _perNetwork.TryGetValue(network, out counts);
                _perNetwork[network] = (counts.All + 1, counts.Pending + 1);
            }
        }

        foreach (var victim in shed)
            Evict(victim, FerryErrorCode.ServerBusy,
                "Too many connections are waiting to log in; this one was idle longest and was closed to make room. Connect again and log in promptly.");
        if (ticket is not null && _options.LoginGraceTime != Timeout.InfiniteTimeSpan)
            ticket.LoginDeadline = _time.CreateTimer(static state =>
            {
                var t = (ConnectionTicket)state!;
                t.LoginDeadlinePassed();
            }, ticket, _options.LoginGraceTime, Timeout.InfiniteTimeSpan);
        return ticket;
    }

    /// <summary>
    /// Takes the idlest pending connection (of <paramref name="network"/>, or of any network) out of the count and adds
    /// it to <paramref name="shed"/>. Only a connection idle for at least
    /// <see cref="FerryServerOptions.MinIdleBeforeShed"/> and not in the middle of a command qualifies: a burst of real
    /// clients logging in at once is never shed, only connections that sit there. Called under the lock.
    /// </summary>
    private bool TryShed(IPAddress? network, List<ConnectionTicket> shed)
    {
        var victim = IdlestSheddable(network, Now);
        if (victim is null)
            return false;
        Forget(victim);
        shed.Add(victim);
        return true;
    }

    private ConnectionTicket? IdlestSheddable(IPAddress? network, long now)
    {
        ConnectionTicket? victim = null;
        foreach (var candidate in _pending)
        {
            if (candidate.IsBusy || (network is not null && !candidate.Network.Equals(network))
                || _time.GetElapsedTime(candidate.LastActivity, now) < _options.MinIdleBeforeShed)
                continue;
            if (victim is null || candidate.LastActivity < victim.LastActivity)
                victim = candidate;
        }
        return victim;
    }

    /// <summary>Pending connections idle long enough to be shed now.</summary>
    public int SheddableCount
    {
        get
        {
            lock (_gate)
            {
                var now = Now;
                return _pending.Count(t => !t.IsBusy && _time.GetElapsedTime(t.LastActivity, now) >= _options.MinIdleBeforeShed);
            }
        }
    }

    internal void Establish(ConnectionTicket ticket)
    {
        lock (_gate)
        {
            if (ticket.IsEstablished || ticket.IsReleased || !_pending.Remove(ticket))
                return;
            ticket.IsEstablished = true;
            var counts = _perNetwork[ticket.Network];
            _perNetwork[ticket.Network] = (counts.All, counts.Pending - 1);
        }
        // Dropped, not only disposed: a logged-in connection may stay open for days holding nothing it no longer needs.
        var deadline = ticket.LoginDeadline;
        ticket.LoginDeadline = null;
        deadline?.Dispose();
    }

    internal void Release(ConnectionTicket ticket)
    {
        lock (_gate)
            Forget(ticket);
        ticket.LoginDeadline?.Dispose();
    }

    /// <summary>Removes the ticket from every count, once. Called under the lock.</summary>
    private void Forget(ConnectionTicket ticket)
    {
        if (ticket.IsReleased)
            return;
        ticket.IsReleased = true;
        _all--;
        var pending = _pending.Remove(ticket) ? 1 : 0;
        var counts = _perNetwork[ticket.Network];
        counts = (counts.All - 1, counts.Pending - pending);
        if (counts.All == 0)
            _perNetwork.Remove(ticket.Network);
        else
            _perNetwork[ticket.Network] = counts;
    }

    /// <summary>The login grace time of a pending connection ran out.</summary>
    internal void LoginDeadlinePassed(ConnectionTicket ticket)
    {
        lock (_gate)
        {
            if (ticket.IsEstablished || ticket.IsReleased)
                return;
            // Without logins, a command in progress is what "logging in" means there: let it finish (it establishes the
            // connection). With logins, the grace time is a hard limit.
            if (!_options.RequireAuthentication && ticket.IsBusy)
            {
                // Look again shortly: the command may end without establishing (a hello), and then the deadline holds.
                try
                {
                    ticket.LoginDeadline?.Change(TimeSpan.FromMilliseconds(Math.Max(100, _options.LoginGraceTime.TotalMilliseconds / 4)), Timeout.InfiniteTimeSpan);
                }
                catch (ObjectDisposedException)
                {
                    // Established or closed meanwhile: nothing left to check.
                }
                return;
            }
            Forget(ticket);
        }
        Evict(ticket, FerryErrorCode.LoginTimeout, _options.RequireAuthentication
            ? $"No login within {_options.LoginGraceTime.TotalSeconds:0.###} s; the connection is closed."
            : $"No command completed within {_options.LoginGraceTime.TotalSeconds:0.###} s; the connection is closed.");
    }

    private void Evict(ConnectionTicket victim, FerryErrorCode code, string message)
    {
        Interlocked.Increment(ref _evictions);
        victim.Evict(code, message);
        // A victim in the middle of a handshake or a frame's body cannot be told at a frame boundary: end it now.
        if (victim.IsBusy && victim.HardStop is { } stop)
            stop(message);
    }
}
