using Ferry.Sync.Chunking;

namespace Ferry.Sync.Delta;

/// <summary>
/// A file's recipe: its chunks in order. Offsets are implied by the lengths, so the list also gives the file length.
/// With <see cref="ChunkIdWidth.Bits64"/> ids, only the low 64 bits of each <see cref="ChunkId"/> are meaningful (the
/// high bits are zero).
/// </summary>
public sealed class ChunkList
{
    /// <summary>Wraps chunks that start at 0 and follow each other without gaps (what the chunker yields).</summary>
    public ChunkList(IReadOnlyList<Chunk> chunks, ChunkIdWidth idWidth)
    {
        ArgumentNullException.ThrowIfNull(chunks);
        if (idWidth is not (ChunkIdWidth.Bits64 or ChunkIdWidth.Bits128))
            throw new ArgumentOutOfRangeException(nameof(idWidth), idWidth, "Unknown id width.");
        long expectedOffset = 0;
        foreach (var chunk in chunks)
        {
            if (chunk.Offset != expectedOffset || chunk.Length <= 0)
                throw new ArgumentException($"Chunk at {chunk.Offset} does not follow the previous one (expected offset {expectedOffset}).", nameof(chunks));
            expectedOffset = chunk.End;
        }
        Chunks = chunks;
        IdWidth = idWidth;
        TotalLength = expectedOffset;
    }

    /// <summary>The chunks, in file order.</summary>
    public IReadOnlyList<Chunk> Chunks { get; }

    /// <summary>How much of each id is meaningful.</summary>
    public ChunkIdWidth IdWidth { get; }

    /// <summary>The file length: the sum of the chunk lengths.</summary>
    public long TotalLength { get; }
}
