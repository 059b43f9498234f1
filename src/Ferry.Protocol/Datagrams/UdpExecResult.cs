using System.Buffers.Binary;
using System.Text;

namespace Ferry.Protocol.Datagrams;

/// <summary>
/// The result of a command run over UDP, before it is cut into chunks:
/// <c>u32 n | n bytes of JSON {"code","timed_out","truncated","stdout","stderr"} | stdout | stderr</c>.
/// </summary>
internal sealed record UdpExecResult(int Code, bool TimedOut, bool Truncated, byte[] Stdout, byte[] Stderr)
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
