using System.Buffers.Binary;
using System.IO.Hashing;
using Ferry.Sync.Chunking;

namespace Ferry.Sync.Delta;

/// <summary>
/// The second level of a chunk list (docs/protocol.md §5.9.6): consecutive chunks gathered into groups of about
/// <see cref="AverageChunks"/>, each named by one 64-bit hash, so that a peer can say which parts of a file it already
/// has for 8 bytes per group instead of ~11 bytes per chunk.
/// </summary>
/// <remarks>
/// <para>Group ends are chosen by content, like chunk ends: a chunk whose id has its bits 32-35 all set ends a group
/// (one chunk in 16 on average), and so do the <see cref="MaxChunks"/>th chunk of a group and the last chunk of the
/// list. An insertion therefore changes only the group or two around it; groups of a fixed count would all shift.</para>
/// <para>Hash width: 64 bits. A false "present" needs one of the sender's G group hashes to equal one of the receiver's
/// H; the chance is about G·H / 2^64, under 2^-28 even for two 1 TiB files of 256 KiB chunks (2^18 groups each), and a
/// false match is still caught by the whole-file XXH3-128 check at the end, which sends the file whole. A 32-bit
/// hash would reach a 1-in-1000 chance per file at about 3,000 groups a side (a 400 MiB file): too close.</para>
/// </remarks>
public static class ChunkGroups
{
    /// <summary>The mean number of chunks per group the boundary rule aims at.</summary>
    public const int AverageChunks = 16;

    /// <summary>No group holds more chunks; it bounds what one missing group costs.</summary>
    public const int MaxChunks = 64;

    /// <summary>The version byte of the group-list encoding.</summary>
    public const byte FormatVersion = 1;

    private const ulong BoundaryMask = 0xFUL << 32;

    /// <summary>Splits <paramref name="chunks"/> into groups; deterministic, so two peers group equal runs alike.</summary>
    public static List<ChunkGroup> Split(IReadOnlyList<Chunk> chunks)
    {
        ArgumentNullException.ThrowIfNull(chunks);
        var groups = new List<ChunkGroup>(chunks.Count / AverageChunks + 1);
        var first = 0;
        for (var i = 0; i < chunks.Count; i++)
        {
            var count = i - first + 1;
            if ((chunks[i].Id.Low64 & BoundaryMask) == BoundaryMask || count == MaxChunks || i == chunks.Count - 1)
            {
                groups.Add(new ChunkGroup(first, count, HashOf(chunks, first, count)));
                first = i + 1;
            }
        }
        return groups;
    }

    /// <summary>
    /// XXH3-64 over each chunk's length (u32 LE) and the low 64 bits of its id (u64 LE). The lengths are in it so that
    /// a receiver that finds the hash knows the group's byte length as well.
    /// </summary>
    public static ulong HashOf(IReadOnlyList<Chunk> chunks, int first, int count)
    {
        ArgumentNullException.ThrowIfNull(chunks);
        var hasher = new XxHash3();
        Span<byte> entry = stackalloc byte[12];
        for (var i = first; i < first + count; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(entry, (uint)chunks[i].Length);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[4..], chunks[i].Id.Low64);
            hasher.Append(entry);
        }
        return hasher.GetCurrentHashAsUInt64();
    }

    /// <summary>
    /// The group list: <c>[u8 version = 1][varint count]</c> then per group <c>[varint chunk count][u64 hash, big-endian]</c>
    /// (varints as in <see cref="ChunkListCodec"/>).
    /// </summary>
    public static byte[] Encode(IReadOnlyList<ChunkGroup> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        var output = new byte[1 + 10 + groups.Count * 9];
        output[0] = FormatVersion;
        var position = 1 + Varint.Write(output.AsSpan(1), (ulong)groups.Count);
        foreach (var group in groups)
        {
            position += Varint.Write(output.AsSpan(position), (ulong)group.ChunkCount);
            BinaryPrimitives.WriteUInt64BigEndian(output.AsSpan(position), group.Hash);
            position += 8;
        }
        return output.AsSpan(0, position).ToArray();
    }

    /// <summary>
    /// Decodes a group list of exactly <paramref name="expectedCount"/> groups holding at most <paramref name="maxChunks"/>
    /// chunks in all; returns (chunk count, hash) per group (FirstChunk is the running total).
    /// </summary>
    /// <exception cref="ChunkListFormatException">Not exactly such a list: another count, a group of 0 or more than
    /// <see cref="MaxChunks"/> chunks, too many chunks in all, cut short, or bytes after it.</exception>
    public static List<ChunkGroup> Decode(ReadOnlySpan<byte> encoded, int expectedCount, long maxChunks)
    {
        if (encoded.Length < 1)
            throw new ChunkListFormatException(ChunkListFormatError.Truncated, "the group list is empty.");
        if (encoded[0] != FormatVersion)
            throw new ChunkListFormatException(ChunkListFormatError.UnsupportedVersion, $"group-list version {encoded[0]} is not {FormatVersion}.");
        var position = 1;
        var count = Varint.Read(encoded, ref position);
        if (count != (ulong)expectedCount || expectedCount < 0)
            throw new ChunkListFormatException(ChunkListFormatError.TooManyChunks, $"the group list holds {count} groups, not the {expectedCount} declared.");
        // Each group takes at least 9 bytes: the input bounds the count before anything is allocated for it.
        if ((ulong)(encoded.Length - position) < count * 9)
            throw new ChunkListFormatException(ChunkListFormatError.Truncated, $"{count} groups declared in {encoded.Length} bytes.");
        var groups = new List<ChunkGroup>((int)count);
        long total = 0;
        for (var i = 0; i < (int)count; i++)
        {
            var chunks = Varint.Read(encoded, ref position);
            if (chunks is 0 or > MaxChunks)
                throw new ChunkListFormatException(ChunkListFormatError.ChunkLengthInvalid, $"group {i} holds {chunks} chunks; groups hold 1 to {MaxChunks}.");
            if (total + (long)chunks > maxChunks)
                throw new ChunkListFormatException(ChunkListFormatError.TooManyChunks, $"the groups hold more than the {maxChunks} chunks a file of this size can have.");
            if (encoded.Length - position < 8)
                throw new ChunkListFormatException(ChunkListFormatError.Truncated, $"group {i}'s hash is cut off.");
            groups.Add(new ChunkGroup((int)total, (int)chunks, BinaryPrimitives.ReadUInt64BigEndian(encoded[position..])));
            position += 8;
            total += (long)chunks;
        }
        if (position != encoded.Length)
            throw new ChunkListFormatException(ChunkListFormatError.TrailingBytes, $"{encoded.Length - position} bytes follow the last group.");
        return groups;
    }

    /// <summary>A set of group indices (which groups a peer lacks): <c>count</c> varints, each the gap from the previous index + 1 (the first: the index itself).</summary>
    public static byte[] EncodeIndices(IReadOnlyList<int> ascending)
    {
        ArgumentNullException.ThrowIfNull(ascending);
        var output = new byte[ascending.Count * 5];
        var position = 0;
        var next = 0;
        foreach (var index in ascending)
        {
            if (index < next)
                throw new ArgumentException("Group indices must be ascending and distinct.", nameof(ascending));
            position += Varint.Write(output.AsSpan(position), (ulong)(index - next));
            next = index + 1;
        }
        return output.AsSpan(0, position).ToArray();
    }

    /// <summary>Decodes exactly <paramref name="count"/> ascending, distinct indices below <paramref name="groupCount"/>.</summary>
    /// <exception cref="ChunkListFormatException">Another count, an index out of range, or bytes after them.</exception>
    public static int[] DecodeIndices(ReadOnlySpan<byte> encoded, int count, int groupCount)
    {
        if (count < 0 || count > groupCount || encoded.Length < count)
            throw new ChunkListFormatException(ChunkListFormatError.TooManyChunks, $"{count} group indices declared for {groupCount} groups in {encoded.Length} bytes.");
        var indices = new int[count];
        var position = 0;
        long next = 0;
        for (var i = 0; i < count; i++)
        {
            var index = next + (long)Math.Min(Varint.Read(encoded, ref position), (ulong)int.MaxValue);
            if (index >= groupCount)
                throw new ChunkListFormatException(ChunkListFormatError.TotalLengthTooLarge, $"group index {index} is beyond the {groupCount} groups.");
            indices[i] = (int)index;
            next = index + 1;
        }
        if (position != encoded.Length)
            throw new ChunkListFormatException(ChunkListFormatError.TrailingBytes, $"{encoded.Length - position} bytes follow the last group index.");
        return indices;
    }
}
