namespace Ferry.Sync.Delta;

/// <summary>Copy bytes the receiver already holds in one of its files (consecutive matching chunks merged into one step).</summary>
/// <param name="TargetOffset">Where the bytes go in the new file.</param>
/// <param name="Length">How many bytes.</param>
/// <param name="BasisFileId">The file, by its index in <see cref="DeltaPlan.BasisFiles"/>.</param>
/// <param name="SourceOffset">Where the bytes start in that file.</param>
public sealed record CopyFromBasisStep(long TargetOffset, long Length, int BasisFileId, long SourceOffset) : AssemblyStep(TargetOffset, Length);
