namespace Ferry.Sync.Delta;

/// <summary>Write chunks the sender ships, in order: <see cref="DeltaPlan.NewChunks"/>[First .. First + Count).</summary>
/// <param name="TargetOffset">Where the bytes go in the new file.</param>
/// <param name="Length">How many bytes (the sum of the chunks' lengths).</param>
/// <param name="FirstNewChunk">Index of the first chunk in <see cref="DeltaPlan.NewChunks"/>.</param>
/// <param name="NewChunkCount">How many consecutive chunks of that list.</param>
public sealed record WriteNewChunksStep(long TargetOffset, long Length, int FirstNewChunk, int NewChunkCount) : AssemblyStep(TargetOffset, Length);
