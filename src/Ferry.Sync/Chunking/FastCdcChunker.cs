using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Sync.Chunking;

/// <summary>
/// Content-defined chunking with FastCDC 2020 (Xia et al.): a 64-bit Gear rolling hash, normalized chunking level 2 and
/// cut-point skipping (no hashing before the minimum size). Because a cut depends only on the bytes just before it, an
/// insertion or deletion changes the chunks around the edit and the chunking falls back into step after it, which is what
/// lets a delta transfer find the unchanged rest of a file.
/// </summary>
/// <remarks>
/// <para>Every entry point (in memory, a stream, a file with N parallel readers) yields exactly the chunks of one serial
/// pass, whatever the read sizes. The parallel ones start a worker at each multiple of
/// <see cref="ChunkingParameters.SegmentLength"/> and let it cut a little past its segment's end; where its cuts and the
/// next worker's first meet, the next worker's list takes over, because the cuts after a cut point depend only on the
/// bytes after it. No cut is forced at a segment boundary: a forced cut would sit at a fixed offset, so an insertion
/// would change the chunks around every boundary after it (about 80 KiB per boundary for a 1 GiB file).</para>
/// <para>Memory: the streaming entry points hold one pooled buffer of <see cref="ChunkingParameters.MaxSize"/> plus the
/// read block per reader, however large the input.</para>
/// </remarks>
public sealed class FastCdcChunker
{
    /// <summary>Bytes asked of the source per read, beyond the one maximal chunk the buffer always has room for.</summary>
    public const int DefaultReadBlockSize = 1024 * 1024;

    private readonly int _minSize;
    private readonly int _averageSize;
    private readonly ulong _smallChunkMask;
    private readonly ulong _largeChunkMask;

    /// <summary>A chunker for <paramref name="parameters"/>; it keeps no state between calls and is safe to share.</summary>
    public FastCdcChunker(ChunkingParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameters = parameters;
        _minSize = parameters.MinSize;
        _averageSize = parameters.AverageSize;
        _smallChunkMask = parameters.SmallChunkMask;
        _largeChunkMask = parameters.LargeChunkMask;
    }

    /// <summary>The sizes this chunker cuts with.</summary>
    public ChunkingParameters Parameters { get; }

    /// <summary>Chunks bytes that are all in memory, in one pass on the calling thread.</summary>
    public IReadOnlyList<Chunk> Chunk(ReadOnlySpan<byte> data)
    {
        var chunks = new List<Chunk>(EstimateChunkCount(data.Length));
        ChunkRange(data, 0, data.Length, chunks);
        return chunks;
    }

    /// <summary>
    /// Chunks bytes that are all in memory with up to <paramref name="workers"/> threads, one segment each at a time; the
    /// result equals <see cref="Chunk(ReadOnlySpan{byte})"/>'s.
    /// </summary>
    public IReadOnlyList<Chunk> ChunkParallel(ReadOnlyMemory<byte> data, int workers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        var segmentLength = Parameters.SegmentLength;
        var segmentCount = (int)((data.Length + segmentLength - 1) / segmentLength);
        var perSegment = new List<Chunk>[segmentCount];
        Parallel.For(0, segmentCount, new ParallelOptions { MaxDegreeOfParallelism = workers }, segment =>
        {
            var start = segment * segmentLength;
            var stopAt = SegmentStop(start, data.Length);
            var chunks = new List<Chunk>(EstimateChunkCount(stopAt - start));
            ChunkRange(data.Span, start, stopAt, chunks);
            perSegment[segment] = chunks;
        });
        var all = new List<Chunk>(EstimateChunkCount(data.Length));
        if (segmentCount == 0)
            return all;
        var current = perSegment[0];
        var index = 0;
        for (var next = 1; next < segmentCount; next++)
        {
            if (TryJoin(current, index, perSegment[next], out var lastOfCurrent, out var firstOfNext))
            {
                all.AddRange(current.Skip(index).Take(lastOfCurrent - index + 1));
                (current, index) = (perSegment[next], firstOfNext);
                continue;
            }
            all.AddRange(current.Skip(index));
            var position = all[^1].End;
            if (position >= data.Length)
                return all;
            // No common cut within the overrun (content with few cut points, such as long runs of one byte): cut the
            // next worker's range again from the last true cut.
            current = new List<Chunk>();
            ChunkRange(data.Span, position, perSegment[next][^1].End, current);
            index = 0;
        }
        all.AddRange(current.Skip(index));
        return all;
    }

    /// <summary>
    /// Chunks a stream from its current position to its end, reading it sequentially; offsets count from that position.
    /// When <paramref name="wholeContentHash"/> is given, every byte is also appended to it in order, so one read yields
    /// both the chunk list and the whole-file hash.
    /// </summary>
    public IAsyncEnumerable<Chunk> ChunkStreamAsync(
        Stream stream, XxHash128? wholeContentHash = null, int readBlockSize = DefaultReadBlockSize, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(readBlockSize, 1);
        return ChunkSequentialAsync(
            (buffer, _, token) => stream.ReadAsync(buffer, token), 0, long.MaxValue, long.MaxValue, wholeContentHash, readBlockSize, cancellationToken);
    }

    /// <summary>
    /// Chunks the first <paramref name="length"/> bytes of an open file with up to <paramref name="workers"/> concurrent
    /// positional readers (one 64 MiB segment each at a time, and a little past its end) and yields the chunks in file
    /// order; the result equals a serial pass's. At most <paramref name="workers"/> buffers and the chunk lists of as many
    /// segments are held.
    /// </summary>
    /// <param name="file">An open file; only positional reads are made, so its file position does not matter.</param>
    /// <param name="length">How many bytes to chunk from offset 0.</param>
    /// <param name="workers">Concurrent segment readers; 1 reads the file sequentially on the caller's enumeration.</param>
    /// <param name="wholeContentHash">With one worker only: also receives every byte in order (the whole-file hash).</param>
    /// <param name="readBlockSize">Bytes asked per read.</param>
    /// <param name="cancellationToken">Stops the reading.</param>
    public IAsyncEnumerable<Chunk> ChunkFileAsync(
        SafeFileHandle file, long length, int workers, XxHash128? wholeContentHash = null, int readBlockSize = DefaultReadBlockSize,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(readBlockSize, 1);
        if (wholeContentHash is not null && workers != 1)
            throw new ArgumentException("A whole-content hash needs the bytes in order: use one worker.", nameof(wholeContentHash));
        return workers == 1
            ? ChunkSequentialAsync((buffer, offset, token) => RandomAccess.ReadAsync(file, buffer, offset, token), 0, length, length, wholeContentHash, readBlockSize, cancellationToken)
            : ChunkSegmentsInParallelAsync(file, length, workers, readBlockSize, cancellationToken);
    }

    private async IAsyncEnumerable<Chunk> ChunkSegmentsInParallelAsync(
        SafeFileHandle file, long length, int workers, int readBlockSize, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var segmentLength = Parameters.SegmentLength;
        var segmentCount = (length + segmentLength - 1) / segmentLength;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var inFlight = new Queue<Task<List<Chunk>>>();
        long nextSegment = 0;
        void StartWorkers()
        {
            while (inFlight.Count < workers && nextSegment < segmentCount)
            {
                var start = nextSegment++ * segmentLength;
                inFlight.Enqueue(Task.Run(() => ChunkFileRangeAsync(file, start, SegmentStop(start, length), length, readBlockSize, stop.Token), stop.Token));
            }
        }
        try
        {
            StartWorkers();
            if (inFlight.Count == 0)
                yield break;
            var current = await inFlight.Dequeue().ConfigureAwait(false);
            var index = 0;
            while (true)
            {
                StartWorkers();
                if (inFlight.Count == 0)
                    break;
                var next = await inFlight.Dequeue().ConfigureAwait(false);
                if (TryJoin(current, index, next, out var lastOfCurrent, out var firstOfNext))
                {
                    for (; index <= lastOfCurrent; index++)
                        yield return current[index];
                    (current, index) = (next, firstOfNext);
                    continue;
                }
                for (; index < current.Count; index++)
                    yield return current[index];
                var position = current[^1].End;
                if (position >= length)
                    yield break;
                // No common cut within the overrun (content with few cut points, such as long runs of one byte): cut the
                // next worker's range again from the last true cut.
                current = await ChunkFileRangeAsync(file, position, next[^1].End, length, readBlockSize, stop.Token).ConfigureAwait(false);
                index = 0;
            }
            for (; index < current.Count; index++)
                yield return current[index];
        }
        finally
        {
            // The consumer stopped early or a segment failed: the other segments' readers must not outlive the handle.
            await stop.CancelAsync().ConfigureAwait(false);
            foreach (var pending in inFlight)
            {
                try { await pending.ConfigureAwait(false); }
                catch (OperationCanceledException) { }
            }
        }
    }

    private async Task<List<Chunk>> ChunkFileRangeAsync(
        SafeFileHandle file, long start, long stopAt, long length, int readBlockSize, CancellationToken cancellationToken)
    {
        var chunks = new List<Chunk>(EstimateChunkCount(stopAt - start));
        await foreach (var chunk in ChunkSequentialAsync(
            (buffer, offset, token) => RandomAccess.ReadAsync(file, buffer, offset, token), start, stopAt, length, null, readBlockSize, cancellationToken)
            .ConfigureAwait(false))
            chunks.Add(chunk);
        return chunks;
    }

    /// <summary>
    /// Where the worker that starts at <paramref name="start"/> may stop: past the end of its segment by the overrun in
    /// which the next worker's cuts usually meet its own (the cuts of two passes started at different offsets fall into
    /// step within a chunk or two on most content), or at the end of the input.
    /// </summary>
    private long SegmentStop(long start, long length)
    {
        var overrun = Math.Min(JoinOverrunChunks * (long)Parameters.MaxSize, Parameters.SegmentLength);
        return Math.Min(start + Parameters.SegmentLength + overrun, length);
    }

    /// <summary>Maximal chunks a worker cuts past its segment's end, for the join with the next worker.</summary>
    private const int JoinOverrunChunks = 16;

    /// <summary>
    /// Finds the first cut at or after <paramref name="next"/>'s start that ends a chunk of <paramref name="current"/> (from
    /// <paramref name="from"/> on, all true cuts) and starts one of <paramref name="next"/>. From that cut on, both lists
    /// hold the same chunks, so the true list continues in <paramref name="next"/>.
    /// </summary>
    private static bool TryJoin(List<Chunk> current, int from, List<Chunk> next, out int lastOfCurrent, out int firstOfNext)
    {
        var i = from;
        var j = 0;
        while (i < current.Count && j < next.Count)
        {
            var cut = current[i].End;
            var start = next[j].Offset;
            if (cut == start)
            {
                (lastOfCurrent, firstOfNext) = (i, j);
                return true;
            }
            if (cut < start)
                i++;
            else
                j++;
        }
        (lastOfCurrent, firstOfNext) = (-1, -1);
        return false;
    }

    /// <summary>
    /// The one streaming loop behind the stream and file entry points: keeps at least one maximal chunk (or all that is
    /// left) in the buffer before choosing a cut, so read sizes never influence where the cuts fall.
    /// </summary>
    /// <param name="read">Reads into the buffer from an absolute offset (the stream form ignores it); 0 means the end.</param>
    /// <param name="start">Absolute offset of the first byte, a true cut point (0, or the end of a chunk of a serial pass)
    /// for a true list; a segment start for a worker whose list is joined later.</param>
    /// <param name="stopAt">The last chunk yielded is the first that ends at or after this offset.</param>
    /// <param name="length">Absolute offset the source ends at (exclusive), or <see cref="long.MaxValue"/> for "until the
    /// source ends"; every window reaches up to it, so a list that stops early still cuts as a whole pass does.</param>
    private async IAsyncEnumerable<Chunk> ChunkSequentialAsync(
        Func<Memory<byte>, long, CancellationToken, ValueTask<int>> read, long start, long stopAt, long length, XxHash128? wholeContentHash,
        int readBlockSize, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var maxSize = Parameters.MaxSize;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((int)Math.Min((long)maxSize + readBlockSize, Array.MaxLength));
        try
        {
            var dataStart = 0; // buffer index of the next chunk's first byte
            var dataEnd = 0; // buffer index just past the last byte read
            var position = start; // absolute offset of buffer[dataStart]
            var sourceEnded = false;
            while (position < stopAt)
            {
                while (!sourceEnded && dataEnd - dataStart < maxSize)
                {
                    if (dataEnd == buffer.Length)
                    {
                        // Room for a maximal chunk plus a read block: moving the tail to the front always frees a block.
                        Buffer.BlockCopy(buffer, dataStart, buffer, 0, dataEnd - dataStart);
                        dataEnd -= dataStart;
                        dataStart = 0;
                    }
                    var readPosition = position + (dataEnd - dataStart);
                    var room = (int)Math.Min(buffer.Length - dataEnd, length - readPosition);
                    var count = room == 0 ? 0 : await read(buffer.AsMemory(dataEnd, room), readPosition, cancellationToken).ConfigureAwait(false);
                    if (count == 0)
                        sourceEnded = true;
                    dataEnd += count;
                }
                var available = dataEnd - dataStart;
                if (available == 0)
                    yield break;
                var chunk = CutAndHash(buffer.AsSpan(dataStart, Math.Min(available, maxSize)), position, wholeContentHash);
                dataStart += chunk.Length;
                position += chunk.Length;
                yield return chunk;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private Chunk CutAndHash(ReadOnlySpan<byte> window, long position, XxHash128? wholeContentHash)
    {
        var content = window[..FindCutPoint(window)];
        wholeContentHash?.Append(content);
        return new Chunk(position, content.Length, ChunkId.Of(content));
    }

    /// <summary>
    /// Chunks <paramref name="data"/> (the whole input) from offset <paramref name="start"/> until a chunk ends at or after
    /// <paramref name="stopAt"/>; windows reach to the end of the input, as in a whole pass.
    /// </summary>
    private void ChunkRange(ReadOnlySpan<byte> data, long start, long stopAt, List<Chunk> into)
    {
        var position = start;
        while (position < stopAt && position < data.Length)
        {
            var window = (int)Math.Min(data.Length - position, Parameters.MaxSize);
            var chunk = CutAndHash(data.Slice((int)position, window), position, null);
            into.Add(chunk);
            position += chunk.Length;
        }
    }

    /// <summary>
    /// The length of the chunk that starts at <paramref name="window"/>[0], where the window holds the next
    /// min(max size, bytes left in the input) bytes. Cuts after the first byte whose Gear hash has zeros under the mask;
    /// the first <see cref="ChunkingParameters.MinSize"/> bytes are skipped without hashing.
    /// </summary>
    internal int FindCutPoint(ReadOnlySpan<byte> window)
    {
        var length = window.Length;
        if (length <= _minSize)
            return length;
        var normalEnd = Math.Min(_averageSize, length);
        ref var gear = ref MemoryMarshal.GetArrayDataReference(GearTable.Values);
        ref var bytes = ref MemoryMarshal.GetReference(window);
        var smallChunkMask = _smallChunkMask;
        var largeChunkMask = _largeChunkMask;
        ulong hash = 0;
        var i = _minSize;
        // Index arithmetic through refs and masks in locals: this loop is the chunker's whole cost, and i < length
        // bounds every access.
        for (; i < normalEnd; i++)
        {
            hash = (hash << 1) + Unsafe.Add(ref gear, Unsafe.Add(ref bytes, i));
            if ((hash & smallChunkMask) == 0)
                return i + 1;
        }
        for (; i < length; i++)
        {
            hash = (hash << 1) + Unsafe.Add(ref gear, Unsafe.Add(ref bytes, i));
            if ((hash & largeChunkMask) == 0)
                return i + 1;
        }
        return length;
    }

    private int EstimateChunkCount(long length) => (int)Math.Min(length / _averageSize + 1, 1 << 20);
}
