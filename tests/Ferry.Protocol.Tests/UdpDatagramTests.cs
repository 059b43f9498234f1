using Ferry.Protocol.Auth;
using Ferry.Protocol.Datagrams;

namespace Ferry.Protocol.Tests;

/// <summary>The sealed datagram format (docs/protocol.md §7.1).</summary>
public class UdpDatagramTests
{
    private static readonly byte[] s_key = Handshake.NewKey();

    [Theory]
    [InlineData(long.MinValue)]
    [InlineData(long.MaxValue)]
    [InlineData(0L)]
    [InlineData(-1L)]
    public void A_sealed_datagram_opens_to_the_same_fields_with_any_timestamp(long timestamp)
    {
        var token = Enumerable.Range(1, UdpDatagram.TokenBytes).Select(i => (byte)i).ToArray();
        var payload = "{\"shell\":\"echo hi\"}"u8.ToArray();
        var bytes = new UdpDatagram(UdpKind.Exec, "ops", ulong.MaxValue, timestamp, 7, 9, token, payload).Encode(s_key, UdpDirection.ClientToServer);

        Assert.True(UdpDatagram.TryDecode(bytes, s_key, UdpDirection.ClientToServer, out var back));
        Assert.Equal((UdpKind.Exec, "ops", ulong.MaxValue, timestamp, 7u, 9u), (back.Kind, back.User, back.RequestId, back.TimestampMs, back.Index, back.Count));
        Assert.Equal(token, back.Token.ToArray());
        Assert.Equal(payload, back.Payload.ToArray());
        Assert.Equal(-1, bytes.AsSpan().IndexOf("echo"u8)); // the payload is encrypted
    }

    [Fact]
    public void A_datagram_opens_only_in_its_direction_with_its_key_and_unchanged()
    {
        var bytes = new UdpDatagram(UdpKind.Chunk, "ops", 42, 1, 0, 1, default, new byte[100]).Encode(s_key, UdpDirection.ServerToClient);
        Assert.True(UdpDatagram.TryDecode(bytes, s_key, UdpDirection.ServerToClient, out var back));
        Assert.True(back.Token.IsEmpty); // no token: zeros on the wire
        Assert.False(UdpDatagram.TryDecode(bytes, s_key, UdpDirection.ClientToServer, out _));
        Assert.False(UdpDatagram.TryDecode(bytes, Handshake.NewKey(), UdpDirection.ServerToClient, out _));
        for (var i = 0; i < bytes.Length; i++)
        {
            var changed = (byte[])bytes.Clone();
            changed[i] ^= 0x80;
            Assert.False(UdpDatagram.TryDecode(changed, s_key, UdpDirection.ServerToClient, out _), $"byte {i} changed and it still opened");
        }
        Assert.False(UdpDatagram.TryDecode(bytes.AsSpan(0, bytes.Length - 1), s_key, UdpDirection.ServerToClient, out _));
        Assert.False(UdpDatagram.TryDecode([], s_key, UdpDirection.ServerToClient, out _));
    }

    [Fact]
    public void The_largest_chunk_fits_one_datagram_for_the_longest_user_name()
    {
        var user = new string('u', 32);
        var bytes = new UdpDatagram(UdpKind.Chunk, user, 1, 1, 0, 1, default, new byte[UdpDatagram.ChunkPayloadBytes]).Encode(s_key, UdpDirection.ServerToClient);
        Assert.True(bytes.Length <= UdpDatagram.MaxDatagramBytes);
        Assert.Throws<ArgumentException>(() => new UdpDatagram(UdpKind.Exec, user, 1, 1, 0, 0, default,
            new byte[UdpDatagram.MaxPayloadBytes(32) + 1]).Encode(s_key, UdpDirection.ClientToServer));
    }
}
