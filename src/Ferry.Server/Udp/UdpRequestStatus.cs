namespace Ferry.Server.Udp;

/// <summary>Where a UDP request stands (docs/protocol.md §7.2).</summary>
internal enum UdpRequestStatus
{
    /// <summary>The command runs; the client is told "accepted".</summary>
    Running,
    /// <summary>The result is kept, in chunks, for the client to fetch.</summary>
    Ready,
    /// <summary>The client said done: the bytes are gone, the id stays so the command never runs again.</summary>
    Delivered,
    /// <summary>Refused, failed or evicted: the same error is repeated to every retransmission.</summary>
    Failed,
}
