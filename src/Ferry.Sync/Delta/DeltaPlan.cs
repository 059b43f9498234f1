using Ferry.Sync.Chunking;

namespace Ferry.Sync.Delta;

/// <summary>
/// How to rebuild a new version of a file on the receiver: which chunks the sender must ship and, in target order, where
/// every byte of the new file comes from. Made by <see cref="DeltaPlanner"/>.
/// </summary>
public sealed class DeltaPlan
{
    internal DeltaPlan(long targetLength, IReadOnlyList<AssemblyStep> steps, IReadOnlyList<Chunk> newChunks, IReadOnlyList<string> basisFiles)
    {
        TargetLength = targetLength;
        Steps = steps;
        NewChunks = newChunks;
        BasisFiles = basisFiles;
        foreach (var step in steps)
        {
            switch (step)
            {
                case CopyFromBasisStep: BytesFromBasis += step.Length; break;
                case CopyFromTargetStep: BytesRepeated += step.Length; break;
                case WriteNewChunksStep: break;
                default: throw new InvalidOperationException($"Unknown step {step.GetType().Name}.");
            }
        }
        foreach (var chunk in newChunks)
            BytesToSend += chunk.Length;
    }

    /// <summary>Length of the new file.</summary>
    public long TargetLength { get; }

    /// <summary>The instructions, ordered by target offset, covering the new file exactly.</summary>
    public IReadOnlyList<AssemblyStep> Steps { get; }

    /// <summary>
    /// The chunks the sender must ship, each once, in the order the steps use them; offsets and ids are the sender's
    /// (where to read them in the new file).
    /// </summary>
    public IReadOnlyList<Chunk> NewChunks { get; }

    /// <summary>The receiver's files the copy steps read from (<see cref="CopyFromBasisStep.BasisFileId"/> indexes it).</summary>
    public IReadOnlyList<string> BasisFiles { get; }

    /// <summary>Bytes of chunk data the sender ships (before compression).</summary>
    public long BytesToSend { get; }

    /// <summary>Bytes copied from the receiver's existing files.</summary>
    public long BytesFromBasis { get; }

    /// <summary>Bytes copied from earlier in the new file (repeated chunks that are shipped once).</summary>
    public long BytesRepeated { get; }
}
