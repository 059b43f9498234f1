using Ferry.Sync.Chunking;

namespace Ferry.Sync.Delta;

/// <summary>
/// Matches the sender's chunk list against the chunks the receiver holds and produces a <see cref="DeltaPlan"/>. Runs on
/// the receiver (which knows its files) in O(chunks) time.
/// </summary>
public static class DeltaPlanner
{
    /// <summary>
    /// Plans the rebuild of the file <paramref name="source"/> describes. Each chunk is, in order of preference: copied
    /// from the receiver's files (continuing the previous copy where possible, else the earliest-added file that has it),
    /// copied from an earlier occurrence in the new file, or shipped. Adjacent steps of the same kind and source merge.
    /// </summary>
    public static DeltaPlan Plan(ChunkList source, ChunkIndex held)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(held);
        var steps = new List<AssemblyStep>();
        var newChunks = new List<Chunk>();
        // New chunks already placed: the key is the id as far as the list's width carries it, and the length.
        var firstOccurrence = new Dictionary<(UInt128 Id, int Length), long>();
        var idMask = source.IdWidth == ChunkIdWidth.Bits128 ? UInt128.MaxValue : ulong.MaxValue;
        long target = 0;
        foreach (var chunk in source.Chunks)
        {
            var previous = steps.Count > 0 ? steps[^1] : null;
            var continueAt = previous is CopyFromBasisStep copy ? (copy.BasisFileId, copy.SourceOffset + copy.Length) : ((int, long)?)null;
            if (held.TryFind(chunk.Id, chunk.Length, source.IdWidth, continueAt, out var location))
            {
                if (previous is CopyFromBasisStep last && last.BasisFileId == location.FileId && last.SourceOffset + last.Length == location.Offset)
                    steps[^1] = last with { Length = last.Length + chunk.Length };
                else
                    steps.Add(new CopyFromBasisStep(target, chunk.Length, location.FileId, location.Offset));
            }
            else if (firstOccurrence.TryGetValue((chunk.Id.Value & idMask, chunk.Length), out var earlier))
            {
                if (previous is CopyFromTargetStep last && last.SourceOffset + last.Length == earlier)
                    steps[^1] = last with { Length = last.Length + chunk.Length };
                else
                    steps.Add(new CopyFromTargetStep(target, chunk.Length, earlier));
            }
            else
            {
                firstOccurrence[(chunk.Id.Value & idMask, chunk.Length)] = target;
                newChunks.Add(chunk);
                if (previous is WriteNewChunksStep last)
                    steps[^1] = last with { Length = last.Length + chunk.Length, NewChunkCount = last.NewChunkCount + 1 };
                else
                    steps.Add(new WriteNewChunksStep(target, chunk.Length, newChunks.Count - 1, 1));
            }
            target += chunk.Length;
        }
        return new DeltaPlan(target, steps, newChunks, [.. held.Files]);
    }
}
