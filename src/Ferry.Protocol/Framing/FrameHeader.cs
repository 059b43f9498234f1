using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;

namespace Ferry.Protocol.Framing;

/// <summary>
/// A parsed frame header: the command, the body length it declares, and the raw JSON for typed deserialization.
/// <see cref="Json"/> points into a buffer owned by the reader and is valid only until the next frame is read.
/// </summary>
public readonly struct FrameHeader
{
    /// <summary>A header as <see cref="FrameDecoder.ParseHeader"/> returns it; <paramref name="json"/> must be the header's JSON object.</summary>
    public FrameHeader(string command, long bodyLength, ReadOnlyMemory<byte> json)
    {
        Command = command;
        BodyLength = bodyLength;
        Json = json;
    }

    /// <summary>The <c>cmd</c> field. Known command names are interned, so reading them does not allocate.</summary>
    public string Command { get; }

    /// <summary>Bytes of body that follow the header (docs/protocol.md §2.3). Zero when none is declared.</summary>
    public long BodyLength { get; }

    /// <summary>The header's UTF-8 JSON bytes (already validated as UTF-8 and as a JSON object).</summary>
    public ReadOnlyMemory<byte> Json { get; }

    /// <summary>True for an error frame (<c>{"cmd":"error","code":...,"message":...}</c>), which <see cref="ToException"/> turns into an exception.</summary>
    public bool IsError => Command == CommandNames.Error;

    /// <summary>
    /// The exception an error frame stands for: its code mapped to <see cref="FerryErrorCode"/> (unknown codes become
    /// <see cref="FerryErrorCode.InternalError"/>, with <see cref="FerryRemoteException.WireCode"/> as sent) and its
    /// message. Throws <see cref="InvalidOperationException"/> when this is not an error frame.
    /// </summary>
    public FerryRemoteException ToException()
    {
        if (!IsError)
            throw new InvalidOperationException($"A '{Command}' frame is not an error frame.");
        return Deserialize(FerryJsonContext.Default.ErrorMessage).ToException();
    }

    /// <summary>
    /// Deserializes the header into its typed message. A missing required field or a wrongly typed field raises a
    /// non-fatal <see cref="FerryProtocolException"/> with <see cref="FerryErrorCode.FieldInvalid"/>.
    /// </summary>
    public T Deserialize<T>(JsonTypeInfo<T> typeInfo)
    {
        try
        {
            return JsonSerializer.Deserialize(Json.Span, typeInfo)
                ?? throw new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The '{Command}' header is null.", isFatal: false);
        }
        catch (JsonException ex)
        {
            var where = ex.Path is { Length: > 2 } path ? $" at {path}" : "";
            throw new FerryProtocolException(FerryErrorCode.FieldInvalid,
                $"The '{Command}' header has a missing or wrongly typed field{where}: {FirstSentence(ex.Message)}", isFatal: false, ex);
        }
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(". ", StringComparison.Ordinal);
        return cut > 0 ? message[..(cut + 1)] : message;
    }
}
