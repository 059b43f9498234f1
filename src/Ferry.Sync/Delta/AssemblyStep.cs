namespace Ferry.Sync.Delta;

/// <summary>
/// One instruction for building the new file: fill <see cref="Length"/> bytes at <see cref="TargetOffset"/>. The steps of
/// a <see cref="DeltaPlan"/> cover the new file in order, without gaps or overlaps.
/// </summary>
/// <param name="TargetOffset">Where the bytes go in the new file.</param>
/// <param name="Length">How many bytes.</param>
public abstract record AssemblyStep(long TargetOffset, long Length);
