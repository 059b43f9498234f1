using System.Text;
using Ferry.Protocol.Errors;
using Ferry.Sync.Delta;

namespace Ferry.Sync.Batching;

/// <summary>
/// Reads what the bodies of put_files and get_files share (docs/protocol.md §5.9.7, §5.9.8): LEB128 numbers, and names
/// sent as the count of bytes kept from the previous name and the bytes added. Every error is a <c>field_invalid</c>
/// that names the frame, the item and its index, so that a peer can tell which of its records was wrong.
/// </summary>
internal sealed class BatchBodyReader(string frame, string item, string nameSubject)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private byte[] _previousName = [];

    /// <summary>Reads put_files records ("its name ...").</summary>
    public static BatchBodyReader ForRecords() => new("put_files", "record", "its name");

    /// <summary>Reads get_files names ("it ...").</summary>
    public static BatchBodyReader ForNames() => new("get_files", "name", "it");

    /// <summary>The number at <paramref name="position"/> in the item <paramref name="index"/>.</summary>
    public ulong Number(ReadOnlySpan<byte> body, ref int position, int index)
    {
        try
        {
            return Varint.Read(body, ref position);
        }
        catch (ChunkListFormatException ex)
        {
            throw Invalid(index, $"a number in it is malformed or cut off ({ex.Reason}).");
        }
    }

    /// <summary>
    /// The name at <paramref name="position"/> in the item <paramref name="index"/>: at most
    /// <see cref="FileRecordFormat.MaxNameBytes"/> bytes of strict UTF-8, keeping no more than the previous name had.
    /// </summary>
    public string Name(ReadOnlySpan<byte> body, ref int position, int index)
    {
        var keep = Number(body, ref position, index);
        var add = Number(body, ref position, index);
        if (keep > (ulong)_previousName.Length)
            throw Invalid(index, $"{nameSubject} keeps {keep} bytes of a previous name of {_previousName.Length}.");
        if (add > FileRecordFormat.MaxNameBytes - keep)
            throw Invalid(index, $"{nameSubject} is longer than {FileRecordFormat.MaxNameBytes} bytes.");
        if (add > (ulong)(body.Length - position))
            throw Invalid(index, $"{nameSubject} runs past the end of the body.");
        var bytes = new byte[(int)keep + (int)add];
        _previousName.AsSpan(0, (int)keep).CopyTo(bytes);
        body.Slice(position, (int)add).CopyTo(bytes.AsSpan((int)keep));
        position += (int)add;
        string name;
        try
        {
            name = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Invalid(index, $"{nameSubject} is not UTF-8.");
        }
        _previousName = bytes;
        return name;
    }

    /// <summary>The refusal of the item <paramref name="index"/>, for <paramref name="why"/>.</summary>
    public FerryException Invalid(int index, string why) =>
        new(FerryErrorCode.FieldInvalid, $"Invalid {frame} body at {item} {index}: {why}");
}
