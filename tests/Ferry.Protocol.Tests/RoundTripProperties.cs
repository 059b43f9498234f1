using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Testing;

namespace Ferry.Protocol.Tests;

/// <summary>Encode with <see cref="FrameWriter"/>, chop arbitrarily, decode with <see cref="FrameReader"/>: same frames back.</summary>
public class RoundTripProperties
{
    [Property(MaxTest = 100)]
    public void Encoded_frames_decode_to_the_same_frames(int seed, NonNegativeInt frameCountSeed, PositiveInt maxChunkSeed)
    {
        var random = new Random(seed);
        var frameCount = 1 + frameCountSeed.Get % 12;
        var maxChunk = 1 + maxChunkSeed.Get % 5000;

        // No back-pressure: the whole encoding is produced before decoding starts.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var writer = new FrameWriter(pipe.Writer);
        var expected = new List<DecodedFrame>();
        for (var i = 0; i < frameCount; i++)
        {
            var body = new byte[random.Next(4) switch { 0 => 0, 1 => 1, 2 => random.Next(2, 300), _ => random.Next(300, 40_000) }];
            random.NextBytes(body);
            writer.WriteHeader(new EchoMessage { BodySize = body.Length }, FerryJsonContext.Default.EchoMessage, body.Length);
            writer.WriteBody(body);
            expected.Add(new DecodedFrame("echo", JsonSerializer.Serialize(new EchoMessage { BodySize = body.Length }, FerryJsonContext.Default.EchoMessage), Convert.ToHexString(body)));
        }
        pipe.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
        pipe.Writer.Complete();
        var bytes = ReadAll(pipe.Reader);

        var decoded = FrameSequences.DecodeStreamingAsync(FrameSequences.RandomChunks(bytes, random, maxChunk)).GetAwaiter().GetResult();
        Assert.True(expected.SequenceEqual(decoded), $"seed {seed}");
    }

    [Property(MaxTest = 200)]
    public void Any_string_command_survives_the_round_trip(NonEmptyString cmd)
    {
        var header = JsonSerializer.Serialize(new Dictionary<string, object> { ["cmd"] = cmd.Get, ["bodysize"] = 3 });
        var frame = FrameBytes.Frame(header, "abc"u8);
        var sequence = new ReadOnlySequence<byte>(frame);
        Assert.True(FrameDecoder.TryReadHeader(ref sequence, FrameLimits.Default, out var json));
        var parsed = FrameDecoder.ParseHeader(json.ToArray(), FrameLimits.Default);
        Assert.Equal(cmd.Get, parsed.Command);
        Assert.Equal(3, parsed.BodyLength);
        Assert.Equal("abc", Encoding.UTF8.GetString(sequence.ToArray()));
    }

    private static byte[] ReadAll(PipeReader reader)
    {
        var output = new MemoryStream();
        while (true)
        {
            var result = reader.ReadAsync().AsTask().GetAwaiter().GetResult();
            foreach (var segment in result.Buffer)
                output.Write(segment.Span);
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                return output.ToArray();
        }
    }
}
