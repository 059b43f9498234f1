using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Protocol.Tests;

/// <summary>Errors through the public framing API: WriteError on one side, IsError/ToException on the other.</summary>
public class ErrorFrameTests
{
    private static async Task<(FrameHeader Header, FrameReader Reader)> WriteAndReadAsync(Action<FrameWriter> write)
    {
        var pipe = new Pipe();
        using (var writer = new FrameWriter(pipe.Writer))
        {
            write(writer);
            await writer.FlushAsync(CancellationToken.None);
        }
        await pipe.Writer.CompleteAsync();
        var reader = new FrameReader(pipe.Reader);
        var header = await reader.ReadFrameAsync(CancellationToken.None);
        Assert.NotNull(header);
        return (header.Value, reader);
    }

    [Fact]
    public async Task An_error_written_with_its_code_comes_back_as_the_same_code_and_message()
    {
        var (header, reader) = await WriteAndReadAsync(w => w.WriteError(new FerryException(FerryErrorCode.NotFound, "No value for 'k'."), fatal: true));
        using (reader)
        {
            Assert.True(header.IsError);
            var error = header.ToException();
            Assert.Equal(FerryErrorCode.NotFound, error.Code);
            Assert.Equal("not_found", error.WireCode);
            Assert.Equal("No value for 'k'.", error.Message);
            Assert.False(error.IsTransient);
            Assert.Contains("\"fatal\":true", Encoding.UTF8.GetString(header.Json.Span), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_code_this_version_does_not_know_keeps_its_wire_name_when_passed_on()
    {
        var unknown = new FerryRemoteException(FerryErrorCode.InternalError, "quantum_flux", "From a newer peer.");
        var (header, reader) = await WriteAndReadAsync(w => w.WriteError(unknown));
        using (reader)
        {
            var error = header.ToException();
            Assert.Equal(FerryErrorCode.InternalError, error.Code);
            Assert.Equal("quantum_flux", error.WireCode);
        }
    }

    [Fact]
    public async Task A_frame_that_is_not_an_error_is_not_turned_into_one()
    {
        var (header, reader) = await WriteAndReadAsync(w => w.WriteHeader(new OkMessage(), FerryJsonContext.Default.OkMessage));
        using (reader)
        {
            Assert.False(header.IsError);
            Assert.Throws<InvalidOperationException>(() => header.ToException());
        }
    }

    [Fact]
    public void An_error_frame_that_lies_about_its_fields_is_a_field_error_not_a_crash()
    {
        var json = """{"cmd":"error","code":7,"message":null}"""u8.ToArray();
        var header = FrameDecoder.ParseHeader(json, FrameLimits.Default);
        Assert.True(header.IsError);
        var refused = Assert.Throws<FerryProtocolException>(() => header.ToException());
        Assert.Equal(FerryErrorCode.FieldInvalid, refused.Code);
    }

    [Fact]
    public void Writing_an_error_in_the_middle_of_a_body_is_refused()
    {
        using var writer = new FrameWriter(new Pipe().Writer);
        writer.WriteHeader(new EchoMessage { BodySize = 2 }, FerryJsonContext.Default.EchoMessage, 2);
        Assert.Throws<InvalidOperationException>(() => writer.WriteError(new FerryException(FerryErrorCode.InternalError, "late")));
        Assert.Throws<ArgumentNullException>(() => new FrameWriter(new Pipe().Writer).WriteError(null!));
    }

    [Theory]
    [InlineData(FerryErrorCode.ServerBusy, true)]
    [InlineData(FerryErrorCode.ServerShuttingDown, true)]
    [InlineData(FerryErrorCode.TooManyUploads, true)]
    [InlineData(FerryErrorCode.ExecLimitReached, true)]
    [InlineData(FerryErrorCode.IdleTimeout, true)]
    [InlineData(FerryErrorCode.TruncatedFrame, true)]
    [InlineData(FerryErrorCode.NotFound, false)]
    [InlineData(FerryErrorCode.AuthenticationFailed, false)]
    [InlineData(FerryErrorCode.CertificateMismatch, false)]
    [InlineData(FerryErrorCode.HeaderTooLarge, false)]
    [InlineData(FerryErrorCode.QuotaExceeded, false)]
    public void Transient_codes_are_those_that_may_pass(FerryErrorCode code, bool transient)
    {
        Assert.Equal(transient, code.IsTransient());
        Assert.Equal(transient, new FerryException(code, "x").IsTransient);
        Assert.Equal(transient, new FerryRemoteException(code, code.ToWire(), "x").IsTransient);
    }
}
