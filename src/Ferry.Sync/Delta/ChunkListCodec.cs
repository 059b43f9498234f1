using System.Buffers;
using Ferry.Sync.Chunking;

namespace Ferry.Sync.Delta;

/// <summary>
/// The binary form of a <see cref="ChunkList"/>:
/// <c>[u8 version = 1][u8 id width = 8 | 16][varint count]</c> then <c>count</c> times <c>[varint length][id]</c>,
/// where a varint is unsigned LEB128 (7 bits a byte, low first, at most 10 bytes, no needless trailing zero bytes) and an
/// id is the big-endian low <c>width</c> bytes of the XXH3-128. A 16 KiB chunk costs 3 + 8 or 3 + 16 bytes.
/// </summary>
public static class ChunkListCodec
{
    /// <summary>The version byte this code writes and reads.</summary>
    public const byte FormatVersion = 1;

    private const int MaxVarintBytes = 10;

    /// <summary>An upper bound of the encoded size of <paramref name="chunkCount"/> chunks.</summary>
    public static long MaxEncodedLength(int chunkCount, ChunkIdWidth idWidth) =>
        2 + MaxVarintBytes + (long)chunkCount * (MaxVarintBytes + (int)idWidth);

    /// <summary>Appends the encoding of <paramref name="list"/> to <paramref name="output"/>.</summary>
    public static void Encode(ChunkList list, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(output);
        var width = (int)list.IdWidth;
        var header = output.GetSpan(2 + MaxVarintBytes);
        header[0] = FormatVersion;
        header[1] = (byte)width;
        output.Advance(2 + Varint.Write(header[2..], (ulong)list.Chunks.Count));
        Span<byte> id = stackalloc byte[ChunkId.Size];
        foreach (var chunk in list.Chunks)
        {
            var entry = output.GetSpan(MaxVarintBytes + width);
            var written = Varint.Write(entry, (ulong)chunk.Length);
            chunk.Id.WriteTo(id);
            id[(ChunkId.Size - width)..].CopyTo(entry[written..]);
            output.Advance(written + width);
        }
    }

    /// <summary>The encoding of <paramref name="list"/> as a new array.</summary>
    public static byte[] Encode(ChunkList list)
    {
        ArgumentNullException.ThrowIfNull(list);
        var output = new ArrayBufferWriter<byte>((int)Math.Min(MaxEncodedLength(list.Chunks.Count, list.IdWidth), Array.MaxLength));
        Encode(list, output);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Decodes a whole encoded list. Every count and length is checked against <paramref name="limits"/> and against
    /// the bytes actually present before anything is allocated for it.
    /// </summary>
    /// <exception cref="ChunkListFormatException">The input is not exactly one valid list within the limits.</exception>
    public static ChunkList Decode(ReadOnlySpan<byte> encoded, ChunkListLimits? limits = null)
    {
        limits ??= ChunkListLimits.Default;
        if (encoded.Length < 2)
            throw new ChunkListFormatException(ChunkListFormatError.Truncated, "shorter than its 2-byte header.");
        if (encoded[0] != FormatVersion)
            throw new ChunkListFormatException(ChunkListFormatError.UnsupportedVersion, $"format version {encoded[0]} is not {FormatVersion}.");
        var width = encoded[1];
        if (width is not ((byte)ChunkIdWidth.Bits64 or (byte)ChunkIdWidth.Bits128))
            throw new ChunkListFormatException(ChunkListFormatError.UnsupportedIdWidth, $"id width {width} is neither 8 nor 16.");
        var position = 2;
        var count = Varint.Read(encoded, ref position);
        // Each entry takes at least one length byte and the id, so the input itself bounds the count.
        var mostTheInputCanHold = (ulong)(encoded.Length - position) / (ulong)(1 + width);
        if (count > (ulong)limits.MaxChunks || count > mostTheInputCanHold)
            throw new ChunkListFormatException(ChunkListFormatError.TooManyChunks,
                $"{count} chunks declared; at most {Math.Min((ulong)limits.MaxChunks, mostTheInputCanHold)} allowed here.");
        var chunks = new Chunk[(int)count];
        Span<byte> id = stackalloc byte[ChunkId.Size];
        id.Clear();
        long offset = 0;
        for (var i = 0; i < chunks.Length; i++)
        {
            var length = Varint.Read(encoded, ref position);
            if (length == 0 || length > (ulong)limits.MaxChunkLength)
                throw new ChunkListFormatException(ChunkListFormatError.ChunkLengthInvalid,
                    $"chunk {i} has length {length}; lengths run from 1 to {limits.MaxChunkLength}.");
            if (offset + (long)length > limits.MaxTotalLength)
                throw new ChunkListFormatException(ChunkListFormatError.TotalLengthTooLarge,
                    $"the chunks add up to more than {limits.MaxTotalLength} bytes.");
            if (encoded.Length - position < width)
                throw new ChunkListFormatException(ChunkListFormatError.Truncated, $"chunk {i}'s id is cut off.");
            encoded.Slice(position, width).CopyTo(id[(ChunkId.Size - width)..]);
            position += width;
            chunks[i] = new Chunk(offset, (int)length, ChunkId.ReadFrom(id));
            offset += (long)length;
        }
        if (position != encoded.Length)
            throw new ChunkListFormatException(ChunkListFormatError.TrailingBytes, $"{encoded.Length - position} bytes follow the last chunk.");
        return new ChunkList(chunks, (ChunkIdWidth)width);
    }
}
