namespace Ferry.Sync.Delta;

/// <summary>
/// A run of consecutive chunks of one chunk list and the hash that stands for all of them (<see cref="ChunkGroups"/>).
/// </summary>
/// <param name="FirstChunk">Index of its first chunk in the list.</param>
/// <param name="ChunkCount">How many chunks it holds (1 to <see cref="ChunkGroups.MaxChunks"/>).</param>
/// <param name="Hash">XXH3-64 of its chunks' lengths and 64-bit ids (<see cref="ChunkGroups.HashOf"/>).</param>
public readonly record struct ChunkGroup(int FirstChunk, int ChunkCount, ulong Hash);
