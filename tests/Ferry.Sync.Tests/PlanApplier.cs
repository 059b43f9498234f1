using Ferry.Sync.Delta;

namespace Ferry.Sync.Tests;

/// <summary>
/// Carries out a <see cref="DeltaPlan"/> in memory the way a receiver would on disk, writing the steps in order, so that
/// tests check plans by the bytes they produce.
/// </summary>
internal static class PlanApplier
{
    public static byte[] Apply(DeltaPlan plan, IReadOnlyDictionary<string, byte[]> receiverFiles, byte[] senderFile)
    {
        var target = new byte[plan.TargetLength];
        long expectedOffset = 0;
        foreach (var step in plan.Steps)
        {
            Assert.Equal(expectedOffset, step.TargetOffset);
            var destination = target.AsSpan((int)step.TargetOffset, (int)step.Length);
            switch (step)
            {
                case CopyFromBasisStep copy:
                    receiverFiles[plan.BasisFiles[copy.BasisFileId]].AsSpan((int)copy.SourceOffset, (int)copy.Length).CopyTo(destination);
                    break;
                case CopyFromTargetStep repeat:
                    Assert.True(repeat.SourceOffset + repeat.Length <= repeat.TargetOffset, "a repeat reads bytes not yet written");
                    target.AsSpan((int)repeat.SourceOffset, (int)repeat.Length).CopyTo(destination);
                    break;
                case WriteNewChunksStep write:
                    var at = 0;
                    for (var i = write.FirstNewChunk; i < write.FirstNewChunk + write.NewChunkCount; i++)
                    {
                        // The sender reads each shipped chunk from its own file at the chunk's offset.
                        var chunk = plan.NewChunks[i];
                        senderFile.AsSpan((int)chunk.Offset, chunk.Length).CopyTo(destination[at..]);
                        at += chunk.Length;
                    }
                    Assert.Equal(step.Length, at);
                    break;
                default:
                    throw new InvalidOperationException(step.GetType().Name);
            }
            expectedOffset += step.Length;
        }
        Assert.Equal(plan.TargetLength, expectedOffset);
        return target;
    }
}
