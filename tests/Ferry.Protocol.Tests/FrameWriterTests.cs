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
