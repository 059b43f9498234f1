using System.Buffers.Binary;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Datagrams;

namespace Ferry.Fuzz;

/// <summary>
/// The input is one UDP datagram as the server or the client receives it (docs/protocol.md §7.1). It goes through
/// <see cref="UdpDatagram.TryPeekUser"/> and <see cref="UdpDatagram.TryDecode"/> in both directions. Since the input will
/// practically never carry a valid AES-GCM tag, the same bytes are also read as the fields of a datagram, which is sealed
/// and opened again. Invariants: nothing throws for any input; a sealed datagram opens to the same fields, only in its
/// own direction and only with its key; any single bit changed makes it fail to open.
/// </summary>
internal static class DatagramTarget
{
    private static readonly byte[] s_key = Enumerable.Range(1, Handshake.KeyBytes).Select(i => (byte)i).ToArray();
    private static readonly byte[] s_otherKey = Enumerable.Range(2, Handshake.KeyBytes).Select(i => (byte)i).ToArray();

    public static void Run(byte[] input)
    {
        UdpDatagram.TryPeekUser(input, out _);
        var opened = UdpDatagram.TryDecode(input, s_key, UdpDirection.ClientToServer, out _)
            | UdpDatagram.TryDecode(input, s_key, UdpDirection.ServerToClient, out _);
        Invariant.That(!opened || input.Length <= UdpDatagram.MaxDatagramBytes, "an over-long datagram opened");

        if (input.Length < 30)
            return;
        var span = input.AsSpan();
        var kind = (UdpKind)(1 + span[0] % 7);
        var userLength = 1 + span[1] % 32;
        var user = new string('u', userLength);
        byte[] token = span[2] % 2 == 0 ? [] : span.Slice(3, UdpDatagram.TokenBytes).ToArray();
        var id = BinaryPrimitives.ReadUInt64BigEndian(span[19..]);
        var timestamp = unchecked((long)id ^ long.MinValue);
        var payload = span[27..].ToArray();
        if (payload.Length > UdpDatagram.MaxPayloadBytes(userLength))
            payload = payload[..UdpDatagram.MaxPayloadBytes(userLength)];
        var datagram = new UdpDatagram(kind, user, id, timestamp, span[27], span[28], token, payload);
        var sealedBytes = datagram.Encode(s_key, UdpDirection.ServerToClient);

        if (!UdpDatagram.TryDecode(sealedBytes, s_key, UdpDirection.ServerToClient, out var back))
            throw new InvariantViolatedException("a sealed datagram did not open");
        Invariant.That(back.Kind == kind && back.User == user && back.RequestId == id && back.TimestampMs == timestamp
            && back.Index == datagram.Index && back.Count == datagram.Count, "a sealed datagram opened to other fields");
        Invariant.Equal(payload, back.Payload.ToArray(), "a sealed datagram opened to another payload");
        Invariant.Equal(token.Length == 0 ? new byte[UdpDatagram.TokenBytes] : token,
            back.Token.Length == 0 ? new byte[UdpDatagram.TokenBytes] : back.Token.ToArray(), "a sealed datagram opened to another token");
        Invariant.That(!UdpDatagram.TryDecode(sealedBytes, s_key, UdpDirection.ClientToServer, out _), "a datagram opened in the other direction");
        Invariant.That(!UdpDatagram.TryDecode(sealedBytes, s_otherKey, UdpDirection.ServerToClient, out _), "a datagram opened with another key");

        var flipped = (byte[])sealedBytes.Clone();
        var at = (int)(id % (ulong)flipped.Length);
        flipped[at] ^= (byte)(1 << (span[2] % 8));
        Invariant.That(!UdpDatagram.TryDecode(flipped, s_key, UdpDirection.ServerToClient, out _), $"a datagram with byte {at} changed still opened");
    }
}
