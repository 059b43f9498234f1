using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using Ferry.Protocol.Auth;

namespace Ferry.Protocol.Datagrams;

/// <summary>
/// One sealed datagram (docs/protocol.md §7.1). Layout (integers big-endian):
/// <code>
/// "FUD2" | kind (1) | n (1) | user (n) | request id (8) | timestamp ms (8) | index (4) | count (4) | token (16) | nonce (12)
///        | ciphertext of the payload | AES-256-GCM tag (16)
/// </code>
/// Everything before the ciphertext is authenticated as associated data; the payload is encrypted. The key is
/// HKDF-SHA256(ikm = user key, salt = request id, info = "ferry-udp-v2 " + direction): one key per request and per
/// direction, and a fresh random nonce per datagram (at most a few tens of thousands of datagrams use one key, far
/// below the 2^32 random-nonce limit of GCM).
/// </summary>
internal sealed record UdpDatagram(UdpKind Kind, string User, ulong RequestId, long TimestampMs, uint Index, uint Count, ReadOnlyMemory<byte> Token,
    ReadOnlyMemory<byte> Payload)
{
    /// <summary>Largest datagram Ferry sends: fits a 1500-byte Ethernet MTU with IPv6 and UDP headers.</summary>
    public const int MaxDatagramBytes = 1400;

    /// <summary>Bytes of payload a chunk carries.</summary>
    public const int ChunkPayloadBytes = 1200;

    /// <summary>Bytes of the address token (docs/protocol.md §7.2): zero until the server sent one.</summary>
    public const int TokenBytes = 16;

    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private const int KeyBytes = 32;
    private static readonly byte[] s_magic = "FUD2"u8.ToArray();
    private static readonly byte[] s_clientInfo = "ferry-udp-v2 client to server"u8.ToArray();
    private static readonly byte[] s_serverInfo = "ferry-udp-v2 server to client"u8.ToArray();

    /// <summary>A datagram without a payload, for a user name of <paramref name="userBytes"/> bytes.</summary>
    public static int FixedBytes(int userBytes) => 4 + 1 + 1 + userBytes + 8 + 8 + 4 + 4 + TokenBytes + NonceBytes + TagBytes;

    /// <summary>Largest payload one datagram carries for a user name of <paramref name="userBytes"/> bytes.</summary>
    public static int MaxPayloadBytes(int userBytes) => MaxDatagramBytes - FixedBytes(userBytes);

    /// <summary>Encodes the datagram and seals it with the key of <paramref name="direction"/> derived from <paramref name="userKey"/>.</summary>
    public byte[] Encode(ReadOnlySpan<byte> userKey, UdpDirection direction)
    {
        var user = Encoding.ASCII.GetBytes(User);
        if (user.Length is 0 or > 32 || !IsPrintableAscii(user))
            throw new ArgumentException("User names in datagrams are 1 to 32 printable ASCII characters.");
        if (Token.Length is not (0 or TokenBytes))
            throw new ArgumentException($"An address token is {TokenBytes} bytes.");
        var size = FixedBytes(user.Length) + Payload.Length;
        if (size > MaxDatagramBytes)
            throw new ArgumentException($"A datagram of {size} bytes exceeds {MaxDatagramBytes}.");
        var buffer = new byte[size];
        var span = buffer.AsSpan();
        s_magic.CopyTo(span);
        span[4] = (byte)Kind;
        span[5] = (byte)user.Length;
        user.CopyTo(span[6..]);
        var at = 6 + user.Length;
        BinaryPrimitives.WriteUInt64BigEndian(span[at..], RequestId);
        BinaryPrimitives.WriteInt64BigEndian(span[(at + 8)..], TimestampMs);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 16)..], Index);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 20)..], Count);
        Token.Span.CopyTo(span[(at + 24)..]); // all zeros when there is no token yet
        var nonce = span.Slice(at + 24 + TokenBytes, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        var header = at + 24 + TokenBytes + NonceBytes;
        Span<byte> key = stackalloc byte[KeyBytes];
        DeriveKey(userKey, RequestId, direction, key);
        using var aead = new AesGcm(key, TagBytes);
        aead.Encrypt(nonce, Payload.Span, span.Slice(header, Payload.Length), span[^TagBytes..], span[..header]);
        CryptographicOperations.ZeroMemory(key);
        return buffer;
    }

    /// <summary>Reads the user name without trusting anything else, so the receiver can find the key. False if malformed.</summary>
    public static bool TryPeekUser(ReadOnlySpan<byte> datagram, out string user)
    {
        user = "";
        if (datagram.Length < FixedBytes(1) || datagram.Length > MaxDatagramBytes || !datagram[..4].SequenceEqual(s_magic))
            return false;
        int n = datagram[5];
        if (n is 0 or > 32 || datagram.Length < FixedBytes(n) || !IsPrintableAscii(datagram.Slice(6, n)))
            return false;
        user = Encoding.ASCII.GetString(datagram.Slice(6, n));
        return true;
    }

    /// <summary>
    /// Opens a datagram sealed by <paramref name="direction"/> with a key derived from <paramref name="userKey"/>. False for
    /// anything malformed, forged, altered, sealed for another request or sent the other way. Never throws for any input.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> userKey, UdpDirection direction, [NotNullWhen(true)] out UdpDatagram? decoded)
    {
        decoded = null;
        if (userKey.Length == 0 || !TryPeekUser(datagram, out var user))
            return false;
        var kind = (UdpKind)datagram[4];
        if (!Enum.IsDefined(kind))
            return false;
        var at = 6 + user.Length;
        var requestId = BinaryPrimitives.ReadUInt64BigEndian(datagram[at..]);
        var header = at + 24 + TokenBytes + NonceBytes;
        var payload = new byte[datagram.Length - header - TagBytes];
        Span<byte> key = stackalloc byte[KeyBytes];
        DeriveKey(userKey, requestId, direction, key);
        try
        {
            using var aead = new AesGcm(key, TagBytes);
            aead.Decrypt(datagram.Slice(at + 24 + TokenBytes, NonceBytes), datagram.Slice(header, payload.Length), datagram[^TagBytes..], payload,
                datagram[..header]);
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
        var token = datagram.Slice(at + 24, TokenBytes);
        decoded = new UdpDatagram(
            kind,
            user,
            requestId,
            BinaryPrimitives.ReadInt64BigEndian(datagram[(at + 8)..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[(at + 16)..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[(at + 20)..]),
            token.ContainsAnyExcept((byte)0) ? token.ToArray() : default,
            payload);
        return true;
    }

    /// <summary>The AEAD key of one request in one direction: HKDF-SHA256(user key, salt = request id, info = label).</summary>
    private static void DeriveKey(ReadOnlySpan<byte> userKey, ulong requestId, UdpDirection direction, Span<byte> key)
    {
        Span<byte> salt = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(salt, requestId);
        HKDF.DeriveKey(HashAlgorithmName.SHA256, userKey, key, salt, direction == UdpDirection.ClientToServer ? s_clientInfo : s_serverInfo);
    }

    private static bool IsPrintableAscii(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (b is < 0x21 or > 0x7E)
                return false;
        }
        return true;
    }

    /// <summary>A new random request id.</summary>
    public static ulong NewRequestId() => BinaryPrimitives.ReadUInt64BigEndian(RandomNumberGenerator.GetBytes(8));

    /// <summary>Checks that Handshake's key size is what datagrams are sealed with.</summary>
    public static bool IsKeyUsable(ReadOnlySpan<byte> key) => key.Length == Handshake.KeyBytes;
}
