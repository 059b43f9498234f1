namespace Ferry.Sync.Delta;

/// <summary>Where the receiver already holds a chunk's bytes.</summary>
/// <param name="FileId">Index of the file in <see cref="ChunkIndex.Files"/>.</param>
/// <param name="Offset">Offset of the chunk in that file.</param>
/// <param name="Length">Length of the chunk.</param>
public readonly record struct BasisLocation(int FileId, long Offset, int Length);
