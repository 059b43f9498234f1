using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Ferry.Protocol.Framing;
using Ferry.Testing;

namespace Ferry.Protocol.Tests;

/// <summary>A decoded frame, compared by value.</summary>
public sealed record DecodedFrame(string Command, string HeaderJson, string BodyHex);

/// <summary>Sample frame sequences and the two decoders every delivery pattern is checked with.</summary>
public static class FrameSequences
{
    /// <summary>Empty body, 1-byte body, classic put, non-ASCII header, and a body larger than the test pipe can hold at once.</summary>
    public static byte[][] Standard(int largeBody = 20_000)
    {
        var random = new Random(1234);
        var large = new byte[largeBody];
        random.NextBytes(large);
        return
        [
            FrameBytes.Frame("""{"cmd":"hello","version":1}"""),
            FrameBytes.WithBody("echo", [0x61]),
            FrameBytes.Frame("""{"cmd":"echo","bodysize":0}"""),
            FrameBytes.Frame("""{"cmd":"put","filename":"a.txt","filesize":5}""", "hello"u8),
            FrameBytes.Frame("""{"cmd":"ls","path":"文件/ü","extra":{"nested":[1,2,{"x":null}]}}"""),
            FrameBytes.WithBody("echo", large),
            FrameBytes.WithBody("echo", [0x00, 0xFF]),
        ];
    }

    /// <summary>Decodes a complete sequence with the pure decoder; the input may have any segment layout.</summary>
    public static List<DecodedFrame> DecodeSequence(ReadOnlySequence<byte> buffer)
    {
        var frames = new List<DecodedFrame>();
        while (FrameDecoder.TryReadHeader(ref buffer, FrameLimits.Default, out var headerJson))
        {
            var header = FrameDecoder.ParseHeader(headerJson.ToArray(), FrameLimits.Default);
            if (buffer.Length < header.BodyLength)
                throw new InvalidOperationException("Sequence ends inside a body.");
            var body = buffer.Slice(0, header.BodyLength);
            frames.Add(new DecodedFrame(header.Command, Encoding.UTF8.GetString(header.Json.Span), Convert.ToHexString(body.ToArray())));
            buffer = buffer.Slice(header.BodyLength);
        }
        if (!buffer.IsEmpty)
            throw new InvalidOperationException($"{buffer.Length} trailing byte(s) left over.");
        return frames;
    }

    /// <summary>
    /// Feeds <paramref name="chunks"/> one write at a time into a pipe whose writer pauses at 8 KiB, so bodies larger than
    /// that must stream, and decodes them with the streaming <see cref="FrameReader"/>.
    /// </summary>
    public static async Task<List<DecodedFrame>> DecodeStreamingAsync(IEnumerable<ReadOnlyMemory<byte>> chunks)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 8192, resumeWriterThreshold: 4096, minimumSegmentSize: 512, useSynchronizationContext: false));
        var produce = Task.Run(async () =>
        {
            foreach (var chunk in chunks)
                await pipe.Writer.WriteAsync(chunk);
            await pipe.Writer.CompleteAsync();
        });

        var frames = new List<DecodedFrame>();
        using var reader = new FrameReader(pipe.Reader);
        var bodyBuffer = new byte[3000]; // deliberately smaller than the large body
        while (await reader.ReadFrameAsync(TestTimeouts.Token()) is { } header)
        {
            var json = Encoding.UTF8.GetString(header.Json.Span);
            var body = new MemoryStream();
            int n;
            while ((n = await reader.ReadBodyAsync(bodyBuffer, TestTimeouts.Token())) > 0)
                body.Write(bodyBuffer, 0, n);
            frames.Add(new DecodedFrame(header.Command, json, Convert.ToHexString(body.ToArray())));
        }
        await produce;
        return frames;
    }

    /// <summary>Splits <paramref name="bytes"/> into pieces whose sizes come from <paramref name="random"/> (1 to <paramref name="maxChunk"/>).</summary>
    public static List<ReadOnlyMemory<byte>> RandomChunks(byte[] bytes, Random random, int maxChunk)
    {
        var chunks = new List<ReadOnlyMemory<byte>>();
        for (var offset = 0; offset < bytes.Length;)
        {
            var size = Math.Min(random.Next(1, maxChunk + 1), bytes.Length - offset);
            chunks.Add(bytes.AsMemory(offset, size));
            offset += size;
        }
        return chunks;
    }

    /// <summary>A read-only sequence whose segments are exactly the given pieces.</summary>
    public static ReadOnlySequence<byte> Segmented(IReadOnlyList<ReadOnlyMemory<byte>> pieces) => SegmentedSequence.Of(pieces);
}
