using System.Buffers;
using System.Text;
using Ferry.Protocol.Framing;
using Ferry.Testing;

namespace Ferry.Benchmarks;

/// <summary>Test frames in wire format, and ways to cut them into multi-segment sequences.</summary>
internal static class FrameData
{
    public const int SmallBody = 64;
    public const int LargeBody = 1024 * 1024;

    /// <summary>The header FrameWriter produces for an <c>EchoMessage</c> with this body size.</summary>
    public static byte[] EchoHeaderJson(int bodySize) => Encoding.UTF8.GetBytes($$"""{"cmd":"echo","bodysize":{{bodySize}}}""");

    /// <summary>A body of lower-case ASCII, as an echo request would carry.</summary>
    public static byte[] Body(int size)
    {
        var body = new byte[size];
        for (var i = 0; i < body.Length; i++)
            body[i] = (byte)('a' + i % 26);
        return body;
    }

    /// <summary>4-byte LE prefix + header JSON + body, as one array.</summary>
    public static byte[] Frame(int bodySize, bool withBody = true)
    {
        var output = new ArrayBufferWriter<byte>();
        FrameWriter.WriteRawHeader(output, EchoHeaderJson(bodySize));
        if (withBody)
            output.Write(Body(bodySize));
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Copies <paramref name="data"/> into separate arrays cut at <paramref name="cuts"/> (ascending offsets).</summary>
    public static byte[][] Cut(byte[] data, IEnumerable<int> cuts)
    {
        var pieces = new List<byte[]>();
        var start = 0;
        foreach (var cut in cuts.Append(data.Length))
        {
            if (cut <= start || cut > data.Length)
                throw new ArgumentOutOfRangeException(nameof(cuts), cut, "Cuts must be ascending offsets inside the data.");
            pieces.Add(data.AsSpan(start, cut - start).ToArray());
            start = cut;
        }
        return pieces.ToArray();
    }

    /// <summary>Offsets every <paramref name="segmentSize"/> bytes (the last piece may be shorter).</summary>
    public static IEnumerable<int> Every(int length, int segmentSize)
    {
        for (var offset = segmentSize; offset < length; offset += segmentSize)
            yield return offset;
    }

    /// <summary>A <see cref="ReadOnlySequence{T}"/> with one segment per piece.</summary>
    public static ReadOnlySequence<byte> Sequence(byte[][] pieces) => SegmentedSequence.Of([.. pieces.Select(p => (ReadOnlyMemory<byte>)p)]);
}
