namespace Ferry.Sync.Chunking;

/// <summary>One content-defined chunk of a file: where it starts, how long it is and what it contains.</summary>
/// <param name="Offset">Byte offset of the chunk's first byte in the file.</param>
/// <param name="Length">Number of bytes; at most <see cref="ChunkingParameters.MaxSize"/>.</param>
/// <param name="Id">XXH3-128 of the chunk's bytes.</param>
public readonly record struct Chunk(long Offset, int Length, ChunkId Id)
{
    /// <summary>The offset just past the chunk's last byte.</summary>
    public long End => Offset + Length;
}
