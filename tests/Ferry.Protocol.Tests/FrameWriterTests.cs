using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Protocol.Errors;

namespace Ferry.Protocol.Tests;

public class FrameWriterTests
{
    [Fact]
    public async Task Header_is_prefixed_with_its_little_endian_length()
    {
        var pipe = new Pipe();
        using var writer = new FrameWriter(pipe.Writer);
        writer.WriteHeader(new ErrorMessage { Code = "not_found", Message = "文件 missing" }, FerryJsonContext.Default.ErrorMessage);
        await writer.FlushAsync(CancellationToken.None);
        pipe.Writer.Complete();
        var bytes = (await pipe.Reader.ReadAsync()).Buffer.ToArray();

        var length = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        Assert.Equal(bytes.Length - 4, (int)length);
        Assert.Equal("""{"cmd":"error","code":"not_found","message":"文件 missing"}""", Encoding.UTF8.GetString(bytes, 4, (int)length));
    }

    [Fact]
    public void Body_overrun_is_refused()
    {
        using var writer = new FrameWriter(new Pipe().Writer);
        writer.WriteHeader(new EchoMessage { BodySize = 2 }, FerryJsonContext.Default.EchoMessage, 2);
        Assert.Throws<InvalidOperationException>(() => writer.WriteBody("abc"u8));
    }

    [Fact]
    public void Next_header_before_the_body_is_complete_is_refused()
    {
        using var writer = new FrameWriter(new Pipe().Writer);
        writer.WriteHeader(new EchoMessage { BodySize = 2 }, FerryJsonContext.Default.EchoMessage, 2);
        writer.WriteBody("a"u8);
        Assert.Throws<InvalidOperationException>(() => writer.WriteHeader(new OkMessage(), FerryJsonContext.Default.OkMessage));
    }

    [Fact]
    public void Declared_and_announced_body_lengths_must_agree()
    {
        using var writer = new FrameWriter(new Pipe().Writer);
        Assert.Throws<InvalidOperationException>(() =>
            writer.WriteHeader(new EchoMessage { BodySize = 2 }, FerryJsonContext.Default.EchoMessage, 3));
    }

    [Fact]
    public void Every_error_code_has_a_unique_wire_name_that_round_trips()
    {
        var all = FerryErrorCodes.All.ToList();
        Assert.Equal(Enum.GetValues<FerryErrorCode>().Length, all.Count);
        Assert.Equal(all.Count, all.Select(c => c.Wire).Distinct().Count());
        foreach (var (code, wire) in all)
        {
            Assert.Matches("^[a-z0-9]+(_[a-z0-9]+)*$", wire);
            Assert.Equal(code, FerryErrorCodes.FromWire(wire));
        }
        Assert.Equal("header_too_large", FerryErrorCode.HeaderTooLarge.ToWire());
    }
}

public class FrameMacTests
{
    private static readonly byte[] s_key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);

    private static async Task<byte[]> EncodeAsync(params (string Cmd, byte[] Body)[] frames)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        using var writer = new FrameWriter(pipe.Writer);
        writer.EnableMac(s_key);
        foreach (var (cmd, body) in frames)
        {
            writer.WriteHeader(new EchoMessage { BodySize = body.Length }, FerryJsonContext.Default.EchoMessage, body.Length);
            // Exercise both body paths: whole spans and pipe memory.
            var half = body.Length / 2;
            writer.WriteBody(body.AsSpan(0, half));
            var rest = writer.GetBodyMemory(body.Length - half);
            body.AsSpan(half).CopyTo(rest.Span);
            writer.AdvanceBody(body.Length - half);
        }
        await writer.FlushAsync(CancellationToken.None);
        pipe.Writer.Complete();
        return (await pipe.Reader.ReadAsync()).Buffer.ToArray();
    }

    private static async Task<List<byte[]>> DecodeAsync(byte[] bytes, int chunk)
    {
        var pipe = new Pipe();
        var feed = Task.Run(async () =>
        {
            for (var i = 0; i < bytes.Length; i += chunk)
                await pipe.Writer.WriteAsync(bytes.AsMemory(i, Math.Min(chunk, bytes.Length - i)));
            pipe.Writer.Complete();
        });
        using var reader = new FrameReader(pipe.Reader);
        reader.EnableMac(s_key);
        var bodies = new List<byte[]>();
        while (await reader.ReadFrameAsync(CancellationToken.None) is { } header)
        {
            var body = new byte[header.BodyLength];
            var filled = 0;
            while (filled < body.Length)
                filled += await reader.ReadBodyAsync(body.AsMemory(filled), CancellationToken.None);
            bodies.Add(body);
        }
        await feed;
        return bodies;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public async Task Authenticated_frames_round_trip_however_they_are_cut(int chunk)
    {
        var bodies = new[] { Array.Empty<byte>(), "x"u8.ToArray(), new byte[70_000] };
        new Random(3).NextBytes(bodies[2]);
        var bytes = await EncodeAsync(bodies.Select(b => ("echo", b)).ToArray());
        Assert.Equal(bodies, await DecodeAsync(bytes, chunk));
    }

    [Fact]
    public async Task Any_flipped_bit_is_caught()
    {
        var bytes = await EncodeAsync(("echo", "hello"u8.ToArray()), ("echo", Array.Empty<byte>()));
        var random = new Random(5);
        for (var trial = 0; trial < 200; trial++)
        {
            var altered = (byte[])bytes.Clone();
            var at = random.Next(4, altered.Length); // past the first length prefix, which has its own checks
            altered[at] ^= (byte)(1 << random.Next(8));
            var ex = await Record.ExceptionAsync(() => DecodeAsync(altered, 13));
            Assert.IsAssignableFrom<FerryProtocolException>(ex);
        }
    }

    [Fact]
    public async Task Dropped_or_replayed_frames_are_caught()
    {
        var one = await EncodeAsync(("echo", "a"u8.ToArray()));
        var two = await EncodeAsync(("echo", "a"u8.ToArray()), ("echo", "a"u8.ToArray()));
        // The second frame of 'two' is identical in content to the first but carries sequence number 1: replaying the
        // first frame in its place (or dropping one) breaks the sequence.
        var replayed = one.Concat(one).ToArray();
        Assert.NotEqual(two, replayed);
        var ex = await Record.ExceptionAsync(() => DecodeAsync(replayed, 64));
        Assert.Equal(FerryErrorCode.FrameMacInvalid, Assert.IsType<FerryProtocolException>(ex).Code);
    }

    [Fact]
    public void Bytes_cannot_bypass_an_authenticating_writer()
    {
        using var writer = new FrameWriter(new Pipe().Writer);
        writer.EnableMac(s_key);
        writer.WriteHeader(new EchoMessage { BodySize = 2 }, FerryJsonContext.Default.EchoMessage, 2);
        Assert.Throws<InvalidOperationException>(() => writer.BodyWrittenExternally(2));
    }
}
