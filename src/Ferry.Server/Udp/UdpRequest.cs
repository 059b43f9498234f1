using System.Net;
using Ferry.Protocol.Errors;

namespace Ferry.Server.Udp;

/// <summary>One UDP request id of one user, from its first valid exec until it is swept. Fields change under the object's lock.</summary>
internal sealed class UdpRequest(string user, ulong id, long created)
{
    private readonly Lock _lock = new();
    private long _lastClientTimestamp = long.MinValue;
    private volatile IPEndPoint? _client;

    public string User { get; } = user;
    public ulong Id { get; } = id;

    /// <summary>When the request was created, as a <see cref="TimeProvider"/> timestamp.</summary>
    public long Created { get; } = created;

    /// <summary>The last address that proved it receives (a valid address token); the only one results go to.</summary>
    public IPEndPoint? Client { get => _client; set => _client = value; }

    public UdpRequestStatus Status { get; private set; }
    public byte[][]? Chunks { get; private set; }
    public long KeptBytes { get; private set; }
    public (FerryErrorCode Code, string Message)? Error { get; private set; }

    public Lock Gate => _lock;

    /// <summary>The newest client timestamp taken for this request (long.MinValue before the first).</summary>
    public long LastClientTimestamp
    {
        get
        {
            lock (_lock)
                return _lastClientTimestamp;
        }
    }

    /// <summary>This request's place in its user's list of remembered requests (oldest first); kept by the table under its lock.</summary>
    internal LinkedListNode<UdpRequest>? Entry { get; set; }

    /// <summary>
    /// Accepts a client datagram's timestamp only when it is newer than every earlier one of this request: the client sends
    /// strictly increasing timestamps, so a replayed datagram (even from the proved address) is recognised and dropped.
    /// </summary>
    public bool TryAdvance(long timestampMs)
    {
        lock (_lock)
        {
            if (timestampMs <= _lastClientTimestamp)
                return false;
            _lastClientTimestamp = timestampMs;
            return true;
        }
    }

    /// <summary>A consistent view of the state, for sending.</summary>
    public (UdpRequestStatus Status, byte[][]? Chunks, (FerryErrorCode Code, string Message)? Error) Snapshot()
    {
        lock (_lock)
            return (Status, Chunks, Error);
    }

    // Transitions; the table calls these under its own lock and the request's.
    internal void SetReady(byte[][] chunks, long bytes)
    {
        Status = UdpRequestStatus.Ready;
        Chunks = chunks;
        KeptBytes = bytes;
    }

    internal void SetFailed(FerryErrorCode code, string message)
    {
        Status = UdpRequestStatus.Failed;
        Chunks = null;
        KeptBytes = 0;
        Error = (code, message);
    }

    internal void SetDelivered()
    {
        Status = UdpRequestStatus.Delivered;
        Chunks = null;
        KeptBytes = 0;
    }
}
