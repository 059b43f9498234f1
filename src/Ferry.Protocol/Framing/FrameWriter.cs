using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Ferry.Protocol.Framing;

/// <summary>
/// Writes frames into a <see cref="PipeWriter"/>. The header is serialized by a source-generated
/// <see cref="JsonTypeInfo{T}"/> into a reused buffer, then written behind its 4-byte little-endian length.
/// The writer counts body bytes against the length the caller declared, so a frame can never be cut short or
/// overrun silently: the next header, or <see cref="EnsureComplete"/>, throws if the body was not exactly that long.
/// Not thread-safe: callers serialize access (one frame at a time).
/// </summary>
public sealed class FrameWriter : IDisposable
{
    private readonly PipeWriter _output;
    private readonly FrameLimits _limits;
    private readonly ArrayBufferWriter<byte> _json = new(256);
    private readonly Utf8JsonWriter _jsonWriter;
    private long _bodyRemaining;

    public FrameWriter(PipeWriter output, FrameLimits? limits = null)
    {
        _output = output;
        _limits = limits ?? FrameLimits.Default;
        _jsonWriter = new Utf8JsonWriter(_json, new JsonWriterOptions
        {
            SkipValidation = true,
            // Headers are not embedded in HTML: keep non-ASCII text readable as UTF-8 instead of \uXXXX escapes.
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
    }

    /// <summary>Body bytes still owed for the current frame.</summary>
    public long BodyRemaining => _bodyRemaining;

    /// <summary>The underlying pipe, for callers that write the body with their own means (see <see cref="BodyWrittenExternally"/>).</summary>
    public PipeWriter Output => _output;

    /// <summary>
    /// Writes a header frame. <paramref name="bodyLength"/> must equal the body size the message itself declares
    /// (its <c>bodysize</c>, or a classic put's <c>filesize</c>); in debug builds this is checked by re-parsing the header.
    /// </summary>
    public void WriteHeader<T>(T message, JsonTypeInfo<T> typeInfo, long bodyLength = 0)
    {
        EnsureComplete();
        ArgumentOutOfRangeException.ThrowIfNegative(bodyLength);

        _json.ResetWrittenCount();
        _jsonWriter.Reset(_json);
        JsonSerializer.Serialize(_jsonWriter, message, typeInfo);
        _jsonWriter.Flush();
        var json = _json.WrittenSpan;
        if (json.Length > _limits.MaxHeaderBytes)
            throw new InvalidOperationException($"Header of {json.Length} bytes exceeds the limit of {_limits.MaxHeaderBytes}.");
#if DEBUG
        var declared = FrameDecoder.ParseHeader(_json.WrittenMemory, _limits).BodyLength;
        if (declared != bodyLength)
            throw new InvalidOperationException($"Header declares a body of {declared} bytes but the caller announced {bodyLength}.");
#endif
        WriteRawHeader(_output, json);
        _bodyRemaining = bodyLength;
    }

    /// <summary>Writes part of the current body (buffered; call <see cref="FlushAsync"/> to send).</summary>
    public void WriteBody(ReadOnlySpan<byte> data)
    {
        Consume(data.Length);
        _output.Write(data);
    }

    /// <summary>Writes part of the current body and lets the pipe apply back-pressure.</summary>
    public ValueTask<FlushResult> WriteBodyAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        Consume(data.Length);
        return _output.WriteAsync(data, cancellationToken);
    }

    /// <summary>Accounts for body bytes sent around the pipe (for example by <c>Socket.SendFileAsync</c> after a flush).</summary>
    public void BodyWrittenExternally(long count) => Consume(count);

    public ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken) => _output.FlushAsync(cancellationToken);

    /// <summary>Throws if the current frame's body is not complete.</summary>
    public void EnsureComplete()
    {
        if (_bodyRemaining != 0)
            throw new InvalidOperationException($"The previous frame still owes {_bodyRemaining} body byte(s).");
    }

    /// <summary>Writes a 4-byte little-endian length and the given header bytes, as they are (tests use this for hostile frames).</summary>
    public static void WriteRawHeader(IBufferWriter<byte> output, ReadOnlySpan<byte> headerJson)
    {
        var span = output.GetSpan(FrameDecoder.PrefixLength + headerJson.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span, headerJson.Length);
        headerJson.CopyTo(span[FrameDecoder.PrefixLength..]);
        output.Advance(FrameDecoder.PrefixLength + headerJson.Length);
    }

    private void Consume(long count)
    {
        if (count > _bodyRemaining)
            throw new InvalidOperationException($"Body overrun: {count} byte(s) written with {_bodyRemaining} declared and still owed.");
        _bodyRemaining -= count;
    }

    public void Dispose() => _jsonWriter.Dispose();
}
