namespace Ferry.Protocol.Datagrams;

/// <summary>Which side sealed a datagram. Each direction has its own key, so a datagram cannot be reflected back as the other side's.</summary>
internal enum UdpDirection
{
    ClientToServer,
    ServerToClient,
}
