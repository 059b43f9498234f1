using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Ferry.Protocol.Auth;

namespace Ferry.Protocol.Datagrams;

/// <summary>Kinds of UDP datagram (docs/protocol.md §7).</summary>
public enum UdpKind : byte
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
}

/// <summary>
/// One authenticated datagram. Layout (integers big-endian):
/// <code>
/// "FUD1" | kind (1) | n (1) | user (n) | request id (8) | timestamp ms (8) | index (4) | count (4) | payload | HMAC-SHA256 (32)
/// </code>
/// The MAC is HMAC-SHA256(user key, "ferry-udp-v1" | every byte before it).
/// </summary>
public sealed record UdpDatagram(UdpKind Kind, string User, ulong RequestId, long TimestampMs, uint Index, uint Count, ReadOnlyMemory<byte> Payload)
{
    /// <summary>Largest datagram Ferry sends: fits a 1500-byte Ethernet MTU with IPv6 and UDP headers.</summary>
    public const int MaxDatagramBytes = 1400;

    /// <summary>Bytes of payload a chunk carries.</summary>
    public const int ChunkPayloadBytes = 1200;

    private const int MacBytes = 32;
    private static readonly byte[] s_magic = "FUD1"u8.ToArray();
    private static readonly byte[] s_label = "ferry-udp-v1"u8.ToArray();

    public static int FixedBytes(int userBytes) => 4 + 1 + 1 + userBytes + 8 + 8 + 4 + 4 + MacBytes;

    /// <summary>Encodes and signs the datagram with <paramref name="key"/>.</summary>
    public byte[] Encode(ReadOnlySpan<byte> key)
    {
        var user = Encoding.ASCII.GetBytes(User);
        if (user.Length is 0 or > 32)
            throw new ArgumentException("User names in datagrams are 1 to 32 ASCII characters.");
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
        Payload.Span.CopyTo(span[(at + 24)..]);
        Mac(key, span[..^MacBytes], span[^MacBytes..]);
        return buffer;
    }

    /// <summary>Reads the user name without trusting anything else, so the receiver can find the key. False if malformed.</summary>
    public static bool TryPeekUser(ReadOnlySpan<byte> datagram, out string user)
    {
        user = "";
        if (datagram.Length < FixedBytes(1) || !datagram[..4].SequenceEqual(s_magic))
            return false;
        int n = datagram[5];
        if (n is 0 or > 32 || datagram.Length < FixedBytes(n))
            return false;
        foreach (var b in datagram.Slice(6, n))
        {
            if (b is < 0x21 or > 0x7E)
                return false;
        }
        user = Encoding.ASCII.GetString(datagram.Slice(6, n));
        return true;
    }

    /// <summary>Verifies the MAC with <paramref name="key"/> and decodes. False for anything malformed or forged.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> key, out UdpDatagram? decoded)
    {
        decoded = null;
        if (!TryPeekUser(datagram, out var user))
            return false;
        Span<byte> expected = stackalloc byte[MacBytes];
        Mac(key, datagram[..^MacBytes], expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, datagram[^MacBytes..]))
            return false;
        var kind = (UdpKind)datagram[4];
        if (!Enum.IsDefined(kind))
            return false;
        var at = 6 + user.Length;
        decoded = new UdpDatagram(
            kind,
            user,
            BinaryPrimitives.ReadUInt64BigEndian(datagram[at..]),
            BinaryPrimitives.ReadInt64BigEndian(datagram[(at + 8)..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[(at + 16)..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[(at + 20)..]),
            datagram[(at + 24)..^MacBytes].ToArray());
        return true;
    }

    private static void Mac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        hmac.AppendData(s_label);
        hmac.AppendData(data);
        hmac.GetHashAndReset(destination);
    }

    /// <summary>A new random request id.</summary>
    public static ulong NewRequestId() => BinaryPrimitives.ReadUInt64BigEndian(RandomNumberGenerator.GetBytes(8));

    /// <summary>Checks that Handshake's key size is what datagrams are signed with.</summary>
    public static bool IsKeyUsable(ReadOnlySpan<byte> key) => key.Length == Handshake.KeyBytes;
}

/// <summary>
/// The result of a command run over UDP, before it is cut into chunks:
/// <c>u32 n | n bytes of JSON {"code","timed_out","truncated","stdout","stderr"} | stdout | stderr</c>.
/// </summary>
public sealed record UdpExecResult(int Code, bool TimedOut, bool Truncated, byte[] Stdout, byte[] Stderr)
{
    public byte[] Encode()
    {
        var json = Encoding.UTF8.GetBytes(
            $$"""{"code":{{Code}},"timed_out":{{(TimedOut ? "true" : "false")}},"truncated":{{(Truncated ? "true" : "false")}},"stdout":{{Stdout.Length}},"stderr":{{Stderr.Length}}}""");
        var bytes = new byte[4 + json.Length + Stdout.Length + Stderr.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)json.Length);
        json.CopyTo(bytes, 4);
        Stdout.CopyTo(bytes, 4 + json.Length);
        Stderr.CopyTo(bytes, 4 + json.Length + Stdout.Length);
        return bytes;
    }

    public static UdpExecResult Decode(ReadOnlySpan<byte> bytes)
    {
        var n = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes);
        using var doc = System.Text.Json.JsonDocument.Parse(bytes.Slice(4, n).ToArray());
        var root = doc.RootElement;
        var outLength = root.GetProperty("stdout").GetInt32();
        var errLength = root.GetProperty("stderr").GetInt32();
        var body = bytes[(4 + n)..];
        if (body.Length != outLength + errLength)
            throw new InvalidDataException("The UDP result's lengths do not add up.");
        return new UdpExecResult(root.GetProperty("code").GetInt32(), root.GetProperty("timed_out").GetBoolean(),
            root.GetProperty("truncated").GetBoolean(), body[..outLength].ToArray(), body[outLength..].ToArray());
    }
}
