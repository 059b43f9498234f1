using Ferry.Sync.Caching;
using Ferry.Sync.Delta;

namespace Ferry.Server.Handlers.Sync;

/// <summary>
/// What a delta put (docs/protocol.md §5.9.3) remembers between put and put_end: the ranges the client must send (sorted,
/// not overlapping), the copies still to make (made in file order as the ranges before them arrive), the files they read,
/// held open until the put ends, and the digest of the file the put replaces.
/// </summary>
internal sealed class DeltaUploadState(long[] neededStarts, long[] neededEnds, DeltaAssembly assembly, IReadOnlyList<IAsyncDisposable> sources, FileDigest? current,
    int averageChunkSize)
    : IAsyncDisposable
{
    /// <summary>The average chunk size the client cut the new file with: the size its next sync will most likely ask for.</summary>
    public int AverageChunkSize { get; } = averageChunkSize;

    /// <summary>The copies still to make, in file order.</summary>
    public DeltaAssembly Assembly { get; } = assembly;

    /// <summary>True while basis files are held open for copies still to make.</summary>
    public bool HoldsFiles => sources.Count > 0;

    /// <summary>The current content of the put's path when the put began, to recognise a put that changes nothing.</summary>
    public FileDigest? Current { get; } = current;

    public int NeededCount => neededStarts.Length;

    public long BytesNeeded { get; } = Enumerable.Range(0, neededStarts.Length).Sum(i => neededEnds[i] - neededStarts[i]);

    /// <summary>Whether [<paramref name="offset"/>, offset+<paramref name="length"/>) lies inside one needed range.</summary>
    public bool IsNeeded(long offset, long length)
    {
        if (offset < 0 || length < 0)
            return false;
        // The last range starting at or before offset.
        var index = Array.BinarySearch(neededStarts, offset);
        if (index < 0)
            index = ~index - 1;
        return index >= 0 && offset + length <= neededEnds[index];
    }

    /// <summary>The put_ready body: each range as (offset, length), little-endian 64-bit integers.</summary>
    public byte[] EncodeRanges()
    {
        var body = new byte[neededStarts.Length * 16];
        for (var i = 0; i < neededStarts.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(i * 16), neededStarts[i]);
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(i * 16 + 8), neededEnds[i] - neededStarts[i]);
        }
        return body;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var source in sources)
            await source.DisposeAsync().ConfigureAwait(false);
    }
}
