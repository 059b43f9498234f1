using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Ferry.Protocol.Errors;

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
    // The header's JSON is staged in a buffer of the calling thread, not of the writer: serializing and copying it into
    // the pipe happen in one synchronous call, so one buffer per thread serves every connection, and an idle connection
    // holds none (a buffer per writer kept ~4.3 KiB on each of thousands of idle connections).
    [ThreadStatic] private static ArrayBufferWriter<byte>? t_json;
    [ThreadStatic] private static Utf8JsonWriter? t_jsonWriter;

    /// <summary>A staging buffer that grew past this for an unusually large header is dropped after use, not kept.</summary>
    private const int KeptJsonCapacity = 16 * 1024;

    private static readonly JsonWriterOptions s_jsonOptions = new()
    {
        SkipValidation = true,
        // Headers are not embedded in HTML: keep non-ASCII text readable as UTF-8 instead of \uXXXX escapes.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private long _bodyRemaining;
    private FrameMac? _mac;
    private Memory<byte> _bodyMemory;

    /// <summary>
    /// A writer into <paramref name="output"/>, which it does not complete or dispose. Nothing reaches the peer until
    /// <see cref="FlushAsync"/>. <paramref name="limits"/> defaults to <see cref="FrameLimits.Default"/>.
    /// </summary>
    public FrameWriter(PipeWriter output, FrameLimits? limits = null)
    {
        _output = output;
        _limits = limits ?? FrameLimits.Default;
    }

    /// <summary>True once <see cref="EnableMac"/> was called: every frame from then on carries a MAC trailer.</summary>
    internal bool MacEnabled => _mac is not null;

    /// <summary>Authenticates every following frame with <paramref name="key"/> (docs/security.md §4).</summary>
    internal void EnableMac(byte[] key)
    {
        EnsureComplete();
        _mac = new FrameMac(key);
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

        var buffer = t_json ??= new ArrayBufferWriter<byte>(256);
        var jsonWriter = t_jsonWriter ??= new Utf8JsonWriter(buffer, s_jsonOptions);
        buffer.ResetWrittenCount();
        jsonWriter.Reset(buffer);
        try
        {
            JsonSerializer.Serialize(jsonWriter, message, typeInfo);
            jsonWriter.Flush();
            var json = buffer.WrittenSpan;
            if (json.Length > _limits.MaxHeaderBytes)
                throw new InvalidOperationException($"Header of {json.Length} bytes exceeds the limit of {_limits.MaxHeaderBytes}.");
#if DEBUG
            var declared = FrameDecoder.ParseHeader(buffer.WrittenMemory, _limits).BodyLength;
            if (declared != bodyLength)
                throw new InvalidOperationException($"Header declares a body of {declared} bytes but the caller announced {bodyLength}.");
#endif
            WriteRawHeader(_output, json);
            _bodyRemaining = bodyLength;
            if (_mac is not null)
            {
                _mac.Begin(json.Length);
                _mac.Append(json);
                if (bodyLength == 0)
                    WriteTrailer();
            }
        }
        finally
        {
            if (buffer.Capacity > KeptJsonCapacity)
            {
                t_json = null;
                t_jsonWriter = null;
            }
        }
    }

    /// <summary>Memory in the pipe to write up to <paramref name="sizeHint"/> body bytes into; commit them with <see cref="AdvanceBody"/>.</summary>
    public Memory<byte> GetBodyMemory(int sizeHint)
    {
        var length = (int)Math.Min(sizeHint, _bodyRemaining);
        _bodyMemory = _output.GetMemory(length)[..length];
        return _bodyMemory;
    }

    /// <summary>Commits <paramref name="count"/> body bytes written into the memory from <see cref="GetBodyMemory"/>.</summary>
    public void AdvanceBody(int count)
    {
        if ((uint)count > (uint)_bodyMemory.Length)
            throw new ArgumentOutOfRangeException(nameof(count));
        _mac?.Append(_bodyMemory.Span[..count]);
        _output.Advance(count);
        _bodyMemory = default;
        Consume(count);
    }

    /// <summary>Writes part of the current body (buffered; call <see cref="FlushAsync"/> to send).</summary>
    public void WriteBody(ReadOnlySpan<byte> data)
    {
        _mac?.Append(data);
        _output.Write(data);
        Consume(data.Length);
    }

    /// <summary>Writes part of the current body and lets the pipe apply back-pressure.</summary>
    public ValueTask<FlushResult> WriteBodyAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (data.Length > _bodyRemaining)
            throw new InvalidOperationException($"Body overrun: {data.Length} byte(s) written with {_bodyRemaining} declared and still owed.");
        _mac?.Append(data.Span);
        if (_mac is not null && data.Length == _bodyRemaining)
        {
            // The trailer must follow the last body byte in the same write.
            _output.Write(data.Span);
            Consume(data.Length);
            return _output.FlushAsync(cancellationToken);
        }
        var write = _output.WriteAsync(data, cancellationToken);
        Consume(data.Length);
        return write;
    }

    /// <summary>
    /// Accounts for body bytes sent around the pipe (for example by sendfile after a flush). Not possible once frames
    /// carry a MAC, since the writer must see every byte.
    /// </summary>
    public void BodyWrittenExternally(long count)
    {
        if (_mac is not null)
            throw new InvalidOperationException("Frames carry a MAC: body bytes cannot bypass the writer.");
        Consume(count);
    }

    /// <summary>Sends what was written so far to the peer; waits while the pipe is over its pause threshold (back-pressure).</summary>
    public ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken) => _output.FlushAsync(cancellationToken);

    /// <summary>
    /// Writes an error frame for <paramref name="error"/>: its stable code (wire name) and message. Set
    /// <paramref name="fatal"/> when the connection closes after this frame, so the peer knows not to send more. The
    /// peer's <see cref="FrameHeader.ToException"/> turns it back into an exception with the same code.
    /// </summary>
    public void WriteError(FerryException error, bool fatal = false)
    {
        ArgumentNullException.ThrowIfNull(error);
        var wire = error is FerryRemoteException remote ? remote.WireCode : error.Code.ToWire();
        WriteHeader(new Messages.ErrorMessage { Code = wire, Message = error.Message, Fatal = fatal }, Messages.FerryJsonContext.Default.ErrorMessage);
    }

    /// <summary>Throws if the current frame's body is not complete.</summary>
    public void EnsureComplete()
    {
        if (_bodyRemaining != 0)
            throw new InvalidOperationException($"The previous frame still owes {_bodyRemaining} body byte(s).");
    }

    /// <summary>Writes a 4-byte little-endian length and the given header bytes, as they are (tests use this for hostile frames).</summary>
    internal static void WriteRawHeader(IBufferWriter<byte> output, ReadOnlySpan<byte> headerJson)
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
        if (_bodyRemaining == 0 && count > 0 && _mac is not null)
            WriteTrailer();
    }

    private void WriteTrailer()
    {
        var span = _output.GetSpan(FrameMac.TrailerBytes);
        _mac!.Finish(span[..FrameMac.TrailerBytes]);
        _output.Advance(FrameMac.TrailerBytes);
    }

    /// <summary>Releases the MAC state; the pipe itself is left to its owner.</summary>
    public void Dispose() => _mac?.Dispose();
}
