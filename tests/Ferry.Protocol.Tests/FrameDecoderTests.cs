using System.Buffers;
using System.Text;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Testing;

namespace Ferry.Protocol.Tests;

public class FrameDecoderTests
{
    [Theory]
    [InlineData(0u, FerryErrorCode.HeaderLengthInvalid)]
    [InlineData(0xFFFFFFFFu, FerryErrorCode.HeaderTooLarge)]
    [InlineData(64u * 1024 * 1024, FerryErrorCode.HeaderTooLarge)]
    [InlineData(65_537u, FerryErrorCode.HeaderTooLarge)]
    [InlineData(0x80000000u, FerryErrorCode.HeaderTooLarge)]
    public void Bad_length_is_fatal_as_soon_as_the_prefix_arrives(uint length, FerryErrorCode expected)
    {
        // Only the 4 prefix bytes are present: the decoder must not wait for (or allocate) the claimed header.
        var buffer = new ReadOnlySequence<byte>(FrameBytes.Prefix(length));
        var ex = Assert.Throws<FerryProtocolException>(() => FrameDecoder.TryReadHeader(ref buffer, FrameLimits.Default, out _));
        Assert.Equal(expected, ex.Code);
        Assert.True(ex.IsFatal);
    }

    [Fact]
    public void Header_at_the_limit_is_accepted()
    {
        var padding = new string('x', FrameLimits.DefaultMaxHeaderBytes - """{"cmd":"echo","p":""}""".Length);
        var frame = FrameBytes.Frame($$"""{"cmd":"echo","p":"{{padding}}"}""");
        var buffer = new ReadOnlySequence<byte>(frame);
        Assert.True(FrameDecoder.TryReadHeader(ref buffer, FrameLimits.Default, out var json));
        Assert.Equal(FrameLimits.DefaultMaxHeaderBytes, json.Length);
    }

    [Fact]
    public void Configurable_maximum_is_honoured()
    {
        var limits = new FrameLimits { MaxHeaderBytes = 100 };
        var buffer = new ReadOnlySequence<byte>(FrameBytes.Frame($$"""{"cmd":"echo","p":"{{new string('x', 100)}}"}"""));
        Assert.Equal(FerryErrorCode.HeaderTooLarge,
            Assert.Throws<FerryProtocolException>(() => FrameDecoder.TryReadHeader(ref buffer, limits, out _)).Code);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(10)]
    public void Incomplete_frames_ask_for_more(int take)
    {
        var frame = FrameBytes.Frame("""{"cmd":"echo"}""");
        var buffer = new ReadOnlySequence<byte>(frame.AsMemory(0, take));
        Assert.False(FrameDecoder.TryReadHeader(ref buffer, FrameLimits.Default, out _));
        Assert.Equal(take, buffer.Length); // nothing consumed
    }

    public static TheoryData<byte[], FerryErrorCode> NonFatalHeaders => new()
    {
        { [0xC3, 0x28], FerryErrorCode.HeaderNotUtf8 },
        { Encoding.UTF8.GetBytes("""{"cmd":"echo","x":"""), FerryErrorCode.HeaderNotJson },
        { Encoding.UTF8.GetBytes("""{"cmd":"echo"} trailing"""), FerryErrorCode.HeaderNotJson },
        { Encoding.UTF8.GetBytes("not json"), FerryErrorCode.HeaderNotJson },
        { Encoding.UTF8.GetBytes("""["cmd","echo"]"""), FerryErrorCode.HeaderNotObject },
        { Encoding.UTF8.GetBytes("\"echo\""), FerryErrorCode.HeaderNotObject },
        { Encoding.UTF8.GetBytes("""{"command":"echo"}"""), FerryErrorCode.CommandMissing },
        { Encoding.UTF8.GetBytes("""{"cmd":5}"""), FerryErrorCode.CommandMissing },
        { Encoding.UTF8.GetBytes("""{"cmd":null}"""), FerryErrorCode.CommandMissing },
        { Encoding.UTF8.GetBytes("""{"cmd":"a","cmd":"b"}"""), FerryErrorCode.CommandMissing },
        { Encoding.UTF8.GetBytes(new string('[', 10_000) + new string(']', 10_000)), FerryErrorCode.HeaderNotObject },
        { Encoding.UTF8.GetBytes("""{"cmd":"echo","x":""" + new string('[', 10_000) + new string(']', 10_000) + "}"), FerryErrorCode.HeaderNotJson },
        { Encoding.UTF8.GetBytes("""{"cmd":"echo",/*c*/"x":1}"""), FerryErrorCode.HeaderNotJson },
        { Encoding.UTF8.GetBytes("{\"cmd\":\"ec\u0001ho\"}"), FerryErrorCode.HeaderNotJson },
    };

    [Theory]
    [MemberData(nameof(NonFatalHeaders))]
    public void Bad_header_content_is_a_non_fatal_error(byte[] header, FerryErrorCode expected)
    {
        var ex = Assert.Throws<FerryProtocolException>(() => FrameDecoder.ParseHeader(header, FrameLimits.Default));
        Assert.Equal(expected, ex.Code);
        Assert.False(ex.IsFatal);
    }

    [Theory]
    [InlineData("""{"cmd":"echo","bodysize":-1}""")]
    [InlineData("""{"cmd":"echo","bodysize":"5"}""")]
    [InlineData("""{"cmd":"echo","bodysize":1.5}""")]
    [InlineData("""{"cmd":"echo","bodysize":9223372036854775808}""")]
    [InlineData("""{"cmd":"echo","bodysize":1e3}""")]
    [InlineData("""{"cmd":"echo","bodysize":null}""")]
    [InlineData("""{"cmd":"echo","bodysize":1,"bodysize":2}""")]
    [InlineData("""{"cmd":"put","filename":"a","filesize":-5}""")]
    [InlineData("""{"cmd":"put","filename":"a","filesize":"10"}""")]
    [InlineData("""{"cmd":"put","filename":"a","filesize":99999999999999999999}""")]
    public void Unusable_body_size_is_fatal(string header)
    {
        var ex = Assert.Throws<FerryProtocolException>(() => FrameDecoder.ParseHeader(Encoding.UTF8.GetBytes(header), FrameLimits.Default));
        Assert.Equal(FerryErrorCode.BodySizeInvalid, ex.Code);
        Assert.True(ex.IsFatal);
    }

    [Theory]
    [InlineData("""{"cmd":"echo"}""", 0)]
    [InlineData("""{"cmd":"echo","bodysize":0}""", 0)]
    [InlineData("""{"bodysize":9223372036854775807,"cmd":"echo"}""", long.MaxValue)]
    [InlineData("""{"cmd":"put","filename":"a.txt","filesize":5000000000}""", 5_000_000_000)]
    [InlineData("""{"cmd":"put","filesize":10,"bodysize":3}""", 3)]
    [InlineData("""{"cmd":"get","filesize":10}""", 0)]
    [InlineData(""" { "cmd" : "echo" , "bodysize" : 7 } """, 7)]
    public void Body_length_follows_the_documented_rule(string header, long expected)
    {
        var parsed = FrameDecoder.ParseHeader(Encoding.UTF8.GetBytes(header), FrameLimits.Default);
        Assert.Equal(expected, parsed.BodyLength);
    }

    [Fact]
    public void Known_commands_are_interned()
    {
        var a = FrameDecoder.ParseHeader(Encoding.UTF8.GetBytes("""{"cmd":"echo"}"""), FrameLimits.Default);
        var b = FrameDecoder.ParseHeader(Encoding.UTF8.GetBytes("""{"cmd":"echo","x":1}"""), FrameLimits.Default);
        Assert.Same(a.Command, b.Command);
        Assert.Same(CommandNames.Echo, a.Command);
    }

    [Fact]
    public void Wrongly_typed_field_is_reported_on_typed_deserialization()
    {
        var header = FrameDecoder.ParseHeader(Encoding.UTF8.GetBytes("""{"cmd":"hello","version":"one"}"""), FrameLimits.Default);
        var ex = Assert.Throws<FerryProtocolException>(() => header.Deserialize(Messages.FerryJsonContext.Default.HelloMessage));
        Assert.Equal(FerryErrorCode.FieldInvalid, ex.Code);
        Assert.False(ex.IsFatal);
        Assert.Contains("version", ex.Message);
    }

    [Fact]
    public void Missing_required_field_is_reported()
    {
        var header = FrameDecoder.ParseHeader(Encoding.UTF8.GetBytes("""{"cmd":"hello"}"""), FrameLimits.Default);
        var ex = Assert.Throws<FerryProtocolException>(() => header.Deserialize(Messages.FerryJsonContext.Default.HelloMessage));
        Assert.Equal(FerryErrorCode.FieldInvalid, ex.Code);
    }
}
