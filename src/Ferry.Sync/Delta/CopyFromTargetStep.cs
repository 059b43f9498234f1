namespace Ferry.Sync.Delta;

/// <summary>
/// Repeat bytes already written earlier in the new file: a chunk that occurs more than once in the new file but nowhere
/// in the receiver's files is sent once and copied from its first occurrence. The source range always lies before
/// <see cref="AssemblyStep.TargetOffset"/>, so a receiver that writes the steps in order has it.
/// </summary>
/// <param name="TargetOffset">Where the bytes go in the new file.</param>
/// <param name="Length">How many bytes.</param>
/// <param name="SourceOffset">Where the earlier copy starts in the new file.</param>
public sealed record CopyFromTargetStep(long TargetOffset, long Length, long SourceOffset) : AssemblyStep(TargetOffset, Length);
