using System.Net;
using Ferry.Protocol.Errors;

namespace Ferry.Server.Connections;

/// <summary>
/// One admitted connection's place in the <see cref="ConnectionLimiter"/>: the network it counts against, whether it
/// has logged in yet, when it last did something, and the token that fires when the limiter wants it gone (login grace
/// time over, or shed to make room). Dispose it when the connection ends.
/// </summary>
internal sealed class ConnectionTicket : IDisposable
{
    private readonly ConnectionLimiter _owner;
    private readonly CancellationTokenSource _evicted = new();
    private long _lastActivity;
    private int _busy;

    internal ConnectionTicket(ConnectionLimiter owner, IPAddress network, long now)
    {
        _owner = owner;
        Network = network;
        _lastActivity = now;
    }

    /// <summary>The key the per-address limits count under (IPv4 address, or IPv6 /64).</summary>
    public IPAddress Network { get; }

    /// <summary>False until the connection logged in (or, on a server without logins, completed a first command).</summary>
    public bool IsEstablished { get; internal set; }

    /// <summary>Set once the limiter released the slot.</summary>
    internal bool IsReleased { get; set; }

    /// <summary>When the connection last made progress (accept, handshake done, a frame); the idlest pending one is shed first.</summary>
    public long LastActivity => Volatile.Read(ref _lastActivity);

    /// <summary>True while a command (or the TLS handshake) is in progress: not idle.</summary>
    public bool IsBusy => Volatile.Read(ref _busy) != 0;

    /// <summary>Fires when the limiter evicts the connection; <see cref="EvictionCode"/> and <see cref="EvictionMessage"/> say why.</summary>
    public CancellationToken Evicted => _evicted.Token;

    public FerryErrorCode EvictionCode { get; private set; }
    public string EvictionMessage { get; private set; } = "";

    /// <summary>Called to end the connection at once when it is evicted in the middle of something (set by the host).</summary>
    internal Action<string>? HardStop { get; set; }

    /// <summary>Records progress now.</summary>
    public void Touch() => Volatile.Write(ref _lastActivity, _owner.Now);

    /// <summary>Marks the start (true) or end (false) of work that must not count as idle.</summary>
    public void SetBusy(bool busy)
    {
        Volatile.Write(ref _busy, busy ? 1 : 0);
        Touch();
    }

    /// <summary>The connection logged in: it leaves the unauthenticated budget and its login deadline.</summary>
    public void Establish() => _owner.Establish(this);

    internal void Evict(FerryErrorCode code, string message)
    {
        lock (_evicted)
        {
            if (_evicted.IsCancellationRequested)
                return;
            EvictionCode = code;
            EvictionMessage = message;
        }
        try { _evicted.Cancel(); } catch (ObjectDisposedException) { }
    }

    internal ITimer? LoginDeadline { get; set; }

    internal void LoginDeadlinePassed() => _owner.LoginDeadlinePassed(this);

    public void Dispose()
    {
        _owner.Release(this);
        _evicted.Dispose();
    }
}
