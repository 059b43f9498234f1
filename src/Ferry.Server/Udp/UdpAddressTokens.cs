using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Ferry.Protocol.Datagrams;

namespace Ferry.Server.Udp;

/// <summary>
/// Address tokens (docs/protocol.md §7.2): a client proves that it receives at its address, for this boot of the server,
/// by echoing the token sent to that address. A token is HMAC-SHA256(boot secret, user | request id | address | port),
/// cut to 16 bytes. The boot secret is random and never stored, so a request captured before a restart carries a token
/// no later boot accepts, and the captured datagram cannot be given a new one without the user's key (the token is part
/// of the sealed header).
/// </summary>
internal sealed class UdpAddressTokens
{
    private readonly byte[] _bootSecret = RandomNumberGenerator.GetBytes(32);

    public byte[] Issue(string user, ulong requestId, IPEndPoint address)
    {
        var token = new byte[UdpDatagram.TokenBytes];
        Compute(user, requestId, address, token);
        return token;
    }

    public bool Verify(string user, ulong requestId, IPEndPoint address, ReadOnlySpan<byte> token)
    {
        if (token.Length != UdpDatagram.TokenBytes)
            return false;
        Span<byte> expected = stackalloc byte[UdpDatagram.TokenBytes];
        Compute(user, requestId, address, expected);
        return CryptographicOperations.FixedTimeEquals(expected, token);
    }

    private void Compute(string user, ulong requestId, IPEndPoint address, Span<byte> destination)
    {
        // An IPv4 client seen on a dual-stack socket and the same client on an IPv4 socket get one token.
        var ip = address.Address.IsIPv4MappedToIPv6 ? address.Address.MapToIPv4() : address.Address;
        Span<byte> fixedPart = stackalloc byte[8 + 16 + 2];
        BinaryPrimitives.WriteUInt64BigEndian(fixedPart, requestId);
        ip.TryWriteBytes(fixedPart.Slice(8, 16), out _);
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart[24..], (ushort)address.Port);
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _bootSecret);
        hmac.AppendData("ferry-udp-v2 address token"u8);
        hmac.AppendData(Encoding.UTF8.GetBytes(user));
        hmac.AppendData([0]);
        hmac.AppendData(fixedPart);
        Span<byte> mac = stackalloc byte[32];
        hmac.GetHashAndReset(mac);
        mac[..UdpDatagram.TokenBytes].CopyTo(destination);
    }
}
