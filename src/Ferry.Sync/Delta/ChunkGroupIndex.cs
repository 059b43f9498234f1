using Ferry.Sync.Chunking;

namespace Ferry.Sync.Delta;

/// <summary>
/// The groups (<see cref="ChunkGroups"/>) of the files a receiver holds, by hash: it tells which of a sender's groups
/// the receiver lacks, and rebuilds the sender's whole chunk list from its own chunks for the groups it has and the
/// chunks the sender sent for the others (docs/protocol.md §5.9.6).
/// </summary>
/// <remarks>
/// A group counts as present only when its hash is one of the receiver's own group hashes. The receiver cannot tell
/// from a group hash alone that it holds every chunk of a group it never cut itself; such a group is asked for, and its
/// chunks are then still found one by one by the <see cref="DeltaPlanner"/>, so no data moves twice, only ids.
/// </remarks>
public sealed class ChunkGroupIndex
{
    private readonly Dictionary<ulong, (IReadOnlyList<Chunk> Chunks, int First, int Count)> _groups = [];

    /// <summary>Adds one held file's chunk list.</summary>
    public void AddFile(IReadOnlyList<Chunk> chunks)
    {
        ArgumentNullException.ThrowIfNull(chunks);
        foreach (var group in ChunkGroups.Split(chunks))
            _groups.TryAdd(group.Hash, (chunks, group.FirstChunk, group.ChunkCount));
    }

    /// <summary>The indices of <paramref name="groups"/> whose hash this index does not know, ascending.</summary>
    public List<int> Missing(IReadOnlyList<ChunkGroup> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        var missing = new List<int>();
        for (var i = 0; i < groups.Count; i++)
        {
            if (!_groups.TryGetValue(groups[i].Hash, out var held) || held.Count != groups[i].ChunkCount)
                missing.Add(i);
        }
        return missing;
    }

    /// <summary>
    /// The sender's chunk list (64-bit ids): held groups from this index, the <paramref name="missing"/> ones from
    /// <paramref name="received"/>, which must hold exactly their chunks, in order, each group hashing to its declared hash.
    /// </summary>
    /// <exception cref="ChunkListFormatException">The received chunks are more or fewer than the missing groups hold, a
    /// group's chunks do not give its hash, or the list does not come to <paramref name="size"/> bytes.</exception>
    public ChunkList Assemble(IReadOnlyList<ChunkGroup> groups, IReadOnlyList<int> missing, IReadOnlyList<Chunk> received, long size)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(missing);
        ArgumentNullException.ThrowIfNull(received);
        var expected = missing.Sum(i => (long)groups[i].ChunkCount);
        if (received.Count != expected)
            throw new ChunkListFormatException(ChunkListFormatError.TooManyChunks, $"{received.Count} chunks sent for groups that hold {expected}.");
        var chunks = new List<Chunk>(groups.Sum(g => g.ChunkCount));
        long offset = 0;
        var next = 0; // in missing
        var taken = 0; // in received
        for (var i = 0; i < groups.Count; i++)
        {
            var group = groups[i];
            if (next < missing.Count && missing[next] == i)
            {
                next++;
                if (ChunkGroups.HashOf(received, taken, group.ChunkCount) != group.Hash)
                    throw new ChunkListFormatException(ChunkListFormatError.GroupHashMismatch, $"the chunks sent for group {i} do not give its hash.");
                for (var k = 0; k < group.ChunkCount; k++)
                    offset = Add(chunks, offset, received[taken + k], size);
                taken += group.ChunkCount;
                continue;
            }
            if (!_groups.TryGetValue(group.Hash, out var held) || held.Count != group.ChunkCount)
                throw new ChunkListFormatException(ChunkListFormatError.NotHeld, $"group {i} is neither held nor sent.");
            for (var k = 0; k < held.Count; k++)
                offset = Add(chunks, offset, held.Chunks[held.First + k], size);
        }
        if (offset != size)
            throw new ChunkListFormatException(ChunkListFormatError.TotalLengthTooLarge, $"the chunks add up to {offset} bytes, not the file's {size}.");
        return new ChunkList(chunks, ChunkIdWidth.Bits64);
    }

    private static long Add(List<Chunk> chunks, long offset, Chunk chunk, long size)
    {
        if (chunk.Length <= 0 || offset + chunk.Length > size)
            throw new ChunkListFormatException(ChunkListFormatError.TotalLengthTooLarge, $"the chunks add up to more than the file's {size} bytes.");
        chunks.Add(new Chunk(offset, chunk.Length, new ChunkId(chunk.Id.Low64)));
        return offset + chunk.Length;
    }
}
