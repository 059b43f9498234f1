using System.Buffers;
using System.Text;
using Ferry.Protocol.Framing;

namespace Ferry.Testing;

/// <summary>Builds raw frame bytes for tests, including deliberately broken ones.</summary>
public static class FrameBytes
{
    /// <summary>A well-formed frame: prefix, the given header JSON, then the body.</summary>
    public static byte[] Frame(string headerJson, ReadOnlySpan<byte> body = default)
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.WriteRawHeader(writer, Encoding.UTF8.GetBytes(headerJson));
        writer.Write(body);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>A frame for <paramref name="cmd"/> with a body, declared by <c>bodysize</c>.</summary>
    public static byte[] WithBody(string cmd, ReadOnlySpan<byte> body) =>
        Frame($$"""{"cmd":"{{cmd}}","bodysize":{{body.Length}}}""", body);

    /// <summary>Just a length prefix.</summary>
    public static byte[] Prefix(uint length) => BitConverter.IsLittleEndian
        ? BitConverter.GetBytes(length)
        : BitConverter.GetBytes(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(length));

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
