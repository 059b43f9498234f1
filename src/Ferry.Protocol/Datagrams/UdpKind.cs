namespace Ferry.Protocol.Datagrams;

/// <summary>Kinds of UDP datagram (docs/protocol.md §7).</summary>
internal enum UdpKind : byte
{
    /// <summary>Client → server: run the command in the payload (JSON, as the exec frame's fields).</summary>
    Exec = 1,
    /// <summary>Server → client: the request is known and running (or done); stop resending it.</summary>
    Accepted = 2,
    /// <summary>Server → client: piece <c>Index</c> of <c>Count</c> of the result.</summary>
    Chunk = 3,
    /// <summary>Client → server: send again the chunks whose bits are set, bit i meaning chunk Index + i.</summary>
    Resend = 4,
    /// <summary>Server → client: the request was refused; payload is JSON {"code","message"}.</summary>
    Error = 5,
    /// <summary>Client → server: everything arrived; the server may forget the result.</summary>
    Done = 6,
    /// <summary>
    /// Server → client: prove you receive at your address for this server's boot; payload is the address token to put in
    /// every later datagram of the request. Sent instead of anything else while the token is missing or wrong.
    /// </summary>
    Retry = 7,
}
