using System.Numerics;

namespace Ferry.Sync.Chunking;

/// <summary>
/// The chunk sizes of FastCDC for one file and the length of the segments that are chunked independently. Both ends of a
/// transfer must chunk with equal parameters to find common chunks, so they derive them from the same file length
/// (<see cref="ForFileLength"/>) or from the same explicit average (<see cref="ForAverageSize"/>).
/// </summary>
public sealed record ChunkingParameters
{
    /// <summary>Smallest average <see cref="ForFileLength"/> chooses: smaller chunks cost more ids than they save bytes.</summary>
    public const int SmallestScaledAverage = 8 * 1024;

    /// <summary>Largest average <see cref="ForFileLength"/> chooses (a 256 GiB file and above).</summary>
    public const int LargestScaledAverage = 256 * 1024;

    /// <summary>Smallest average an explicit override may ask for.</summary>
    public const int SmallestAverage = 64;

    /// <summary>Largest average an explicit override may ask for; its maximum chunk (4×) bounds every chunk buffer.</summary>
    public const int LargestAverage = 4 * 1024 * 1024;

    /// <summary>
    /// The unit of parallel chunking: one worker starts cutting at each multiple of it, and its cuts are joined to the
    /// previous worker's where the two meet, so the chunks equal one serial pass's. It is not a cut point (a cut at a fixed
    /// offset would make an insertion change the chunks around every later boundary).
    /// </summary>
    public const long DefaultSegmentLength = 64L * 1024 * 1024;

    private ChunkingParameters(int averageSize, long segmentLength)
    {
        AverageSize = averageSize;
        MinSize = averageSize / 4;
        MaxSize = averageSize * 4;
        SegmentLength = segmentLength;
        var bits = BitOperations.Log2((uint)averageSize);
        // Normalized chunking, level 2 (FastCDC 2020): two more mask bits before the average make early cuts rarer,
        // two fewer after it make late cuts likelier, which narrows the chunk size distribution around the average.
        SmallChunkMask = HighBitsMask(bits + 2);
        LargeChunkMask = HighBitsMask(bits - 2);
    }

    /// <summary>The chunk length the cut-point rule aims at; a power of two.</summary>
    public int AverageSize { get; }

    /// <summary>No chunk is shorter, except the last one of the file. A quarter of <see cref="AverageSize"/>.</summary>
    public int MinSize { get; }

    /// <summary>No chunk is longer. Four times <see cref="AverageSize"/>.</summary>
    public int MaxSize { get; }

    /// <summary>How much of a file one parallel chunking worker takes; it does not change the chunks.</summary>
    public long SegmentLength { get; }

    /// <summary>Mask tested while the chunk is shorter than the average (more one-bits, so a cut is less likely).</summary>
    internal ulong SmallChunkMask { get; }

    /// <summary>Mask tested once the chunk reached the average (fewer one-bits, so a cut is more likely).</summary>
    internal ulong LargeChunkMask { get; }

    /// <summary>Most chunks <see cref="ForFileLength"/> gives a file, and most a server chunks a file into (§5.9.2).</summary>
    public const long MostChunksPerFile = 1 << 20;

    /// <summary>
    /// The parameters for a file of <paramref name="length"/> bytes: average = clamp(2^round(log2(√length)) / 4, 8 KiB,
    /// 256 KiB), raised if needed so the file has at most <see cref="MostChunksPerFile"/> chunks; so 1 GiB gets 8 KiB,
    /// 16 GiB 32 KiB and 256 GiB 256 KiB; min = average/4, max = 4×average. A delta transfer passes the larger of the
    /// two versions' lengths. Only the sender chooses: it names the average in its request, and the receiver cuts with
    /// that, so two versions of this rule still meet.
    /// </summary>
    /// <remarks>
    /// <para>round(log2(√L)) is computed in integers as ⌊(⌊log2 L⌋ + 1) / 2⌋ (halves round up), so that no
    /// floating-point rounding can make two machines disagree.</para>
    /// <para>A quarter rather than a half of √L: for a 1 GiB file with 164 scattered 64 KiB regions overwritten, 16 KiB
    /// chunks sent 1.13× rsync's bytes, because every edit also carries the unchanged rest of the chunks it touches;
    /// 8 KiB chunks send about a fifth less. The chunk lists double, but with two-level lists (§5.9.6) only the group
    /// hashes of the whole list cross the wire.</para>
    /// </remarks>
    public static ChunkingParameters ForFileLength(long length, long segmentLength = DefaultSegmentLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var log2Length = length <= 1 ? 0 : BitOperations.Log2((ulong)length);
        var log2Root = (log2Length + 1) / 2;
        var average = log2Root <= 2 ? 1L : 1L << (log2Root - 2);
        var leastForCount = (long)BitOperations.RoundUpToPowerOf2((ulong)((length + MostChunksPerFile - 1) / MostChunksPerFile));
        average = Math.Clamp(Math.Max(average, leastForCount), SmallestScaledAverage, LargestScaledAverage);
        return new ChunkingParameters((int)average, ValidSegmentLength(segmentLength, (int)average));
    }

    /// <summary>Explicit parameters (a <c>--chunk-size</c> override): <paramref name="averageSize"/> must be a power of two
    /// between <see cref="SmallestAverage"/> and <see cref="LargestAverage"/>.</summary>
    public static ChunkingParameters ForAverageSize(int averageSize, long segmentLength = DefaultSegmentLength)
    {
        if (averageSize < SmallestAverage || averageSize > LargestAverage || !BitOperations.IsPow2(averageSize))
            throw new ArgumentOutOfRangeException(nameof(averageSize), averageSize,
                $"The average chunk size must be a power of two from {SmallestAverage} to {LargestAverage} bytes.");
        return new ChunkingParameters(averageSize, ValidSegmentLength(segmentLength, averageSize));
    }

    private static long ValidSegmentLength(long segmentLength, int averageSize)
    {
        // A segment must hold at least one maximal chunk, or the forced cuts would override the size rule everywhere.
        if (segmentLength < 4L * averageSize)
            throw new ArgumentOutOfRangeException(nameof(segmentLength), segmentLength,
                $"The segment length must be at least the maximum chunk size ({4L * averageSize} bytes).");
        return segmentLength;
    }

    /// <summary>
    /// A mask of the <paramref name="oneBits"/> highest of the bits 63, 61, 59, ... (every other bit, downwards). Bit k
    /// of the Gear hash depends on the last k+1 bytes only (older bytes are shifted out), so high bits make a cut depend
    /// on a window of content (at least 18 bytes even for the largest average), not on a single byte value. Taking a
    /// prefix of one fixed list nests the masks: every position that passes the small-chunk mask also passes the
    /// large-chunk one, so two chunkers that start at different offsets (before and after an edit) choose among the same
    /// candidate cuts and fall back into step sooner (over 2000 random 2-byte insertions, the worst took 15 chunks to
    /// resynchronise with masks of unrelated bits and 8 with nested ones).
    /// </summary>
    private static ulong HighBitsMask(int oneBits)
    {
        var mask = 0UL;
        for (var j = 0; j < oneBits; j++)
            mask |= 1UL << (63 - 2 * j);
        return mask;
    }

    /// <summary>For logs: "avg 16384, min 4096, max 65536, segment 67108864".</summary>
    public override string ToString() => $"avg {AverageSize}, min {MinSize}, max {MaxSize}, segment {SegmentLength}";
}
