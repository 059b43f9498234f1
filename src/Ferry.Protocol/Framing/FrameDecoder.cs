using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;
using Ferry.Protocol.Errors;

namespace Ferry.Protocol.Framing;

/// <summary>
/// Pure decoding of the frame layout (docs/protocol.md §2):
/// <code>
/// +----------------+------------------------------+-------------------------------+
/// | H: uint32 LE   | H bytes: UTF-8 JSON object   | B bytes: body (B from header) |
/// +----------------+------------------------------+-------------------------------+
/// </code>
/// No sockets, no waiting: callers feed whatever bytes they have.
/// </summary>
public static class FrameDecoder
{
    /// <summary>Size of the length prefix.</summary>
    public const int PrefixLength = 4;

    /// <summary>
    /// Tries to take one frame header (prefix and JSON) off the front of <paramref name="buffer"/>.
    /// Returns <c>false</c> when more bytes are needed. On success <paramref name="buffer"/> is sliced past the header
    /// (the body, if any, is next) and <paramref name="headerJson"/> is the JSON slice.
    /// The length is checked as soon as the 4 prefix bytes are present, before waiting for the header itself:
    /// a prefix of 0 or above <see cref="FrameLimits.MaxHeaderBytes"/> throws a fatal <see cref="FerryProtocolException"/>.
    /// </summary>
    public static bool TryReadHeader(ref ReadOnlySequence<byte> buffer, FrameLimits limits, out ReadOnlySequence<byte> headerJson)
    {
        headerJson = default;
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadLittleEndian(out int signedLength))
            return false;

        var length = (uint)signedLength;
        if (length == 0)
            throw new FerryProtocolException(FerryErrorCode.HeaderLengthInvalid, "Header length is 0; a frame header must be a JSON object.", isFatal: true);
        if (length > (uint)limits.MaxHeaderBytes)
            throw new FerryProtocolException(FerryErrorCode.HeaderTooLarge,
                $"Header length {length} exceeds the limit of {limits.MaxHeaderBytes} bytes.", isFatal: true);

        if (reader.Remaining < length)
            return false;

        headerJson = buffer.Slice(PrefixLength, length);
        buffer = buffer.Slice(PrefixLength + length);
        return true;
    }

    /// <summary>
    /// Validates a complete header and extracts <c>cmd</c> and the declared body length.
    /// Non-fatal errors (the header is discarded and framing continues): not UTF-8, not JSON, not an object, no
    /// <c>cmd</c>. Fatal errors: a body size that is not a non-negative 64-bit integer.
    /// </summary>
    /// <remarks>
    /// The body length is the <c>bodysize</c> field. A <c>put</c> header without <c>bodysize</c> uses
    /// <c>filesize</c>, so that the classic tutorial upload <c>{"cmd":"put","filename":..,"filesize":N}</c> + N bytes
    /// is a valid frame (docs/protocol.md §2.3).
    /// </remarks>
    public static FrameHeader ParseHeader(ReadOnlyMemory<byte> json, FrameLimits limits)
    {
        var span = json.Span;
        if (!Utf8.IsValid(span))
            throw new FerryProtocolException(FerryErrorCode.HeaderNotUtf8, "Header is not valid UTF-8.", isFatal: false);

        string? command = null;
        string? commandProblem = null;
        long? bodySize = null;
        long? fileSize = null;
        var fileSizeInvalid = false;
        try
        {
            var reader = new Utf8JsonReader(span, new JsonReaderOptions { MaxDepth = limits.MaxHeaderDepth });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new FerryProtocolException(FerryErrorCode.HeaderNotObject, "Header is not a JSON object.", isFatal: false);

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("cmd"u8))
                {
                    reader.Read();
                    // Keep scanning after a bad 'cmd': the body size may still be readable, and skipping the body keeps
                    // the connection in step whatever order the fields came in.
                    if (reader.TokenType != JsonTokenType.String || command is not null || commandProblem is not null)
                    {
                        commandProblem = "Header field 'cmd' must appear once, as a string.";
                        command = null;
                        reader.Skip();
                    }
                    else
                    {
                        command = InternCommand(ref reader);
                    }
                }
                else if (reader.ValueTextEquals("bodysize"u8))
                {
                    reader.Read();
                    if (bodySize is not null || reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var value) || value < 0)
                        throw new FerryProtocolException(FerryErrorCode.BodySizeInvalid,
                            "Header field 'bodysize' must appear once, as an integer from 0 to 2^63-1.", isFatal: true);
                    bodySize = value;
                }
                else if (reader.ValueTextEquals("filesize"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) && value >= 0 && fileSize is null)
                        fileSize = value;
                    else
                        fileSizeInvalid = true;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            // Reading to the end makes the reader reject trailing bytes after the object.
            while (reader.Read()) { }
        }
        catch (JsonException ex)
        {
            throw new FerryProtocolException(FerryErrorCode.HeaderNotJson, $"Header is not valid JSON: {ex.Message}", isFatal: false, ex);
        }
        catch (InvalidOperationException ex)
        {
            // A string that is valid JSON but not valid Unicode once unescaped (a lone surrogate such as "\udc00").
            throw new FerryProtocolException(FerryErrorCode.HeaderNotJson, "Header holds a string that is not valid Unicode.", isFatal: false, ex);
        }

        if (command is null)
            throw new FerryProtocolException(FerryErrorCode.CommandMissing, commandProblem ?? "Header has no 'cmd' field.", isFatal: false)
            {
                DeclaredBodyLength = bodySize ?? 0,
            };

        if (bodySize is null && ReferenceEquals(command, CommandNames.Put))
        {
            // The classic upload declares its body with 'filesize'; if that is unusable the framing is lost.
            if (fileSizeInvalid)
                throw new FerryProtocolException(FerryErrorCode.BodySizeInvalid,
                    "Header field 'filesize' must be an integer from 0 to 2^63-1.", isFatal: true);
            bodySize = fileSize;
        }

        return new FrameHeader(command, bodySize ?? 0, json);
    }

    private static string InternCommand(ref Utf8JsonReader reader)
    {
        foreach (var (utf8, name) in CommandNames.Known)
        {
            if (reader.ValueTextEquals(utf8))
                return name;
        }
        return reader.GetString()!;
    }
}
