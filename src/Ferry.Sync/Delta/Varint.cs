namespace Ferry.Sync.Delta;

/// <summary>Unsigned LEB128 (7 bits a byte, low first, at most 10 bytes, one encoding per value), as the chunk and group lists use it.</summary>
internal static class Varint
{
    public const int MaxBytes = 10;

    public static int Write(Span<byte> destination, ulong value)
    {
        var written = 0;
        while (value >= 0x80)
        {
            destination[written++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[written++] = (byte)value;
        return written;
    }

    public static ulong Read(ReadOnlySpan<byte> source, ref int position)
    {
        ulong value = 0;
        for (var i = 0; i < MaxBytes; i++)
        {
            if (position >= source.Length)
                throw new ChunkListFormatException(ChunkListFormatError.Truncated, "a number is cut off.");
            var b = source[position++];
            // The tenth byte may only carry bit 63; anything more overflows.
            if (i == MaxBytes - 1 && b > 1)
                throw new ChunkListFormatException(ChunkListFormatError.MalformedNumber, "a number overflows 64 bits.");
            value |= (ulong)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                // One encoding per value: a zero final byte after others is padding that a canonical writer never emits.
                if (b == 0 && i > 0)
                    throw new ChunkListFormatException(ChunkListFormatError.MalformedNumber, "a number has needless bytes.");
                return value;
            }
        }
        throw new ChunkListFormatException(ChunkListFormatError.MalformedNumber, "a number is longer than 10 bytes.");
    }
}
