
namespace Ferry.Sync.Batching;

/// <summary>
/// Reads a whole put_files body (<see cref="FileRecordFormat"/>) before anything is stored, so that a body that lies
/// (a count it does not hold, a length past its end, bytes after the last record, a name that reuses more than the
/// previous name had or is not UTF-8, unknown flags) is refused as a whole with <c>field_invalid</c>.
/// </summary>
public static class FileRecordReader
{
    /// <summary>The <paramref name="count"/> records of <paramref name="body"/>, which must hold exactly those.</summary>
    /// <exception cref="FerryException"><c>field_invalid</c>: the body breaks the format or does not hold exactly <paramref name="count"/> records.</exception>
    public static List<FileRecord> ReadAll(ReadOnlyMemory<byte> body, int count)
    {
        var reader = BatchBodyReader.ForRecords();
        if (count < 1)
            throw reader.Invalid(0, $"a put_files carries at least one record (count {count}).");
        var records = new List<FileRecord>(Math.Min(count, 1024));
        var span = body.Span;
        var position = 0;
        long previousTime = 0;
        for (var index = 0; index < count; index++)
        {
            if (position == span.Length)
                throw reader.Invalid(index, $"the body ends after {index} records, but count says {count}.");
            var name = reader.Name(span, ref position, index);

            if (position == span.Length)
                throw reader.Invalid(index, "it is cut off before its flags.");
            var flags = span[position++];
            if ((flags & ~FileRecordFormat.KnownFlags) != 0)
                throw reader.Invalid(index, $"it has unknown flags 0x{flags:x2}.");
            int? mode = null;
            if ((flags & FileRecordFormat.HasMode) != 0)
            {
                var m = reader.Number(span, ref position, index);
                if (m > int.MaxValue)
                    throw reader.Invalid(index, $"its mode {m} is out of range.");
                mode = (int)m;
            }
            long? time = null;
            if ((flags & FileRecordFormat.HasTime) != 0)
            {
                previousTime = unchecked(previousTime + FileRecordFormat.UnZigZag(reader.Number(span, ref position, index)));
                time = previousTime;
            }
            var size = reader.Number(span, ref position, index);
            if (FileRecordFormat.HashBytes > span.Length - position || size > (ulong)(span.Length - position - FileRecordFormat.HashBytes))
                throw reader.Invalid(index, $"its hash and {size} bytes of content run past the end of the body.");
            var hash = body.Slice(position, FileRecordFormat.HashBytes);
            position += FileRecordFormat.HashBytes;
            var content = body.Slice(position, (int)size);
            position += (int)size;
            records.Add(new FileRecord(name, mode, time, (flags & FileRecordFormat.Force) != 0, hash, content));
        }
        if (position != span.Length)
            throw reader.Invalid(count, $"{span.Length - position} bytes follow the last of its {count} records.");
        return records;
    }
}
