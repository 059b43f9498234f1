namespace Ferry.Server.Udp;

/// <summary>What <see cref="UdpRequestTable.TryAdd"/> did with a new (user, request id).</summary>
internal enum UdpAdmission
{
    /// <summary>A new request was registered; the caller runs it.</summary>
    Added,

    /// <summary>The id is already remembered; the caller answers from what is known.</summary>
    Known,

    /// <summary>
    /// The datagram is not newer than a request of the same user that was evicted or refused: it may be a replay of it,
    /// so it is dropped (a real client retransmits with a newer timestamp).
    /// </summary>
    Replayed,

    /// <summary>The user's or the server's cap on remembered requests is reached and nothing could be evicted: refused.</summary>
    Full,
}
