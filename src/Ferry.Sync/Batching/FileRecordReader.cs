using System.Text;
using Ferry.Protocol.Errors;
using Ferry.Sync.Delta;

namespace Ferry.Sync.Batching;

/// <summary>
/// Reads a whole put_files body (<see cref="FileRecordFormat"/>) before anything is stored, so that a body that lies
/// (a count it does not hold, a length past its end, bytes after the last record, a name that reuses more than the
/// previous name had or is not UTF-8, unknown flags) is refused as a whole with <c>field_invalid</c>.
/// </summary>
public static class FileRecordReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The <paramref name="count"/> records of <paramref name="body"/>, which must hold exactly those.</summary>
    /// <exception cref="FerryException"><c>field_invalid</c>: the body breaks the format or does not hold exactly <paramref name="count"/> records.</exception>
    public static List<FileRecord> ReadAll(ReadOnlyMemory<byte> body, int count)
    {
        if (count < 1)
            throw Invalid(0, $"a put_files carries at least one record (count {count}).");
        var records = new List<FileRecord>(Math.Min(count, 1024));
        var span = body.Span;
        var position = 0;
        var previousName = Array.Empty<byte>();
        var nameBuffer = new byte[FileRecordFormat.MaxNameBytes];
        long previousTime = 0;
        for (var index = 0; index < count; index++)
        {
            if (position == span.Length)
                throw Invalid(index, $"the body ends after {index} records, but count says {count}.");
            var keep = Number(span, ref position, index);
            var add = Number(span, ref position, index);
            if (keep > (ulong)previousName.Length)
                throw Invalid(index, $"its name keeps {keep} bytes of a previous name of {previousName.Length}.");
            if (add > FileRecordFormat.MaxNameBytes - keep)
                throw Invalid(index, $"its name is longer than {FileRecordFormat.MaxNameBytes} bytes.");
            if (add > (ulong)(span.Length - position))
                throw Invalid(index, "its name runs past the end of the body.");
            var nameLength = (int)keep + (int)add;
            previousName.AsSpan(0, (int)keep).CopyTo(nameBuffer);
            span.Slice(position, (int)add).CopyTo(nameBuffer.AsSpan((int)keep));
            position += (int)add;
            var nameBytes = nameBuffer.AsSpan(0, nameLength).ToArray();
            string name;
            try
            {
                name = StrictUtf8.GetString(nameBytes);
            }
            catch (DecoderFallbackException)
            {
                throw Invalid(index, "its name is not UTF-8.");
            }
            previousName = nameBytes;

            if (position == span.Length)
                throw Invalid(index, "it is cut off before its flags.");
            var flags = span[position++];
            if ((flags & ~FileRecordFormat.KnownFlags) != 0)
                throw Invalid(index, $"it has unknown flags 0x{flags:x2}.");
            int? mode = null;
            if ((flags & FileRecordFormat.HasMode) != 0)
            {
                var m = Number(span, ref position, index);
                if (m > int.MaxValue)
                    throw Invalid(index, $"its mode {m} is out of range.");
                mode = (int)m;
            }
            long? time = null;
            if ((flags & FileRecordFormat.HasTime) != 0)
            {
                previousTime = unchecked(previousTime + FileRecordFormat.UnZigZag(Number(span, ref position, index)));
                time = previousTime;
            }
            var size = Number(span, ref position, index);
            if (FileRecordFormat.HashBytes > span.Length - position || size > (ulong)(span.Length - position - FileRecordFormat.HashBytes))
                throw Invalid(index, $"its hash and {size} bytes of content run past the end of the body.");
            var hash = body.Slice(position, FileRecordFormat.HashBytes);
            position += FileRecordFormat.HashBytes;
            var content = body.Slice(position, (int)size);
            position += (int)size;
            records.Add(new FileRecord(name, mode, time, (flags & FileRecordFormat.Force) != 0, hash, content));
        }
        if (position != span.Length)
            throw Invalid(count, $"{span.Length - position} bytes follow the last of its {count} records.");
        return records;
    }

    private static ulong Number(ReadOnlySpan<byte> span, ref int position, int index)
    {
        try
        {
            return Varint.Read(span, ref position);
        }
        catch (ChunkListFormatException ex)
        {
            throw Invalid(index, $"a number in it is malformed or cut off ({ex.Reason}).");
        }
    }

    private static FerryException Invalid(int index, string why) =>
        new(FerryErrorCode.FieldInvalid, $"Invalid put_files body at record {index}: {why}");
}
