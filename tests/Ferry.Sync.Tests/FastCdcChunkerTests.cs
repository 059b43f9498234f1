using System.IO.Hashing;
using FsCheck;
using FsCheck.Xunit;
using Ferry.Sync.Chunking;
using Ferry.Testing;

namespace Ferry.Sync.Tests;

public class FastCdcChunkerTests
{
    // Small chunks and segments keep the inputs small while exercising every rule (min, max, joins of parallel workers).
    private static readonly ChunkingParameters Small = ChunkingParameters.ForAverageSize(1024, segmentLength: 64 * 1024);

    private static async Task<List<Chunk>> CollectAsync(IAsyncEnumerable<Chunk> chunks)
    {
        var list = new List<Chunk>();
        await foreach (var chunk in chunks)
            list.Add(chunk);
        return list;
    }

    private static void AssertCovers(IReadOnlyList<Chunk> chunks, byte[] data, ChunkingParameters parameters)
    {
        long expected = 0;
        foreach (var chunk in chunks)
        {
            Assert.Equal(expected, chunk.Offset);
            Assert.InRange(chunk.Length, 1, parameters.MaxSize);
            Assert.Equal(ChunkId.Of(data.AsSpan((int)chunk.Offset, chunk.Length)), chunk.Id);
            // Only the last chunk of the file may be short.
            if (chunk.End != data.Length)
                Assert.True(chunk.Length > parameters.MinSize, $"chunk at {chunk.Offset} has {chunk.Length} bytes");
            expected = chunk.End;
        }
        Assert.Equal(data.Length, expected);
    }

    [Fact]
    public void Empty_input_has_no_chunks()
    {
        var chunker = new FastCdcChunker(Small);

        Assert.Empty(chunker.Chunk([]));
        Assert.Empty(chunker.ChunkParallel(Array.Empty<byte>(), 4));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(255)]
    [InlineData(256)]
    [InlineData(257)]
    public async Task Input_up_to_just_past_the_minimum_is_one_chunk(int length)
    {
        var data = TestData.RandomBytes(length, length);
        var chunker = new FastCdcChunker(Small);

        var chunks = chunker.Chunk(data);
        var streamed = await CollectAsync(chunker.ChunkStreamAsync(new MemoryStream(data)));

        var only = Assert.Single(chunks);
        Assert.Equal(new Chunk(0, length, ChunkId.Of(data)), only);
        Assert.Equal(chunks, streamed);
    }

    [Fact]
    public void Same_bytes_give_the_same_chunks_and_different_bytes_different_ones()
    {
        var data = TestData.RandomBytes(300_000, 1);
        var chunker = new FastCdcChunker(Small);

        var first = chunker.Chunk(data);
        var second = new FastCdcChunker(ChunkingParameters.ForAverageSize(1024, 64 * 1024)).Chunk(data.ToArray());
        var other = chunker.Chunk(TestData.RandomBytes(300_000, 2));

        Assert.Equal(first, second);
        Assert.Empty(first.Select(c => c.Id).Intersect(other.Select(c => c.Id)));
    }

    [Fact]
    public void Chunks_respect_min_and_max_and_average_near_the_target()
    {
        var data = TestData.RandomBytes(2_000_000, 3);
        var parameters = ChunkingParameters.ForAverageSize(4096, segmentLength: 512 * 1024);

        var chunks = new FastCdcChunker(parameters).Chunk(data);

        AssertCovers(chunks, data, parameters);
        var mean = data.Length / (double)chunks.Count;
        Assert.InRange(mean, parameters.AverageSize * 0.75, parameters.AverageSize * 1.5);
    }

    [Fact]
    public void Content_without_cut_points_is_cut_at_the_maximum_size()
    {
        // All zeros: the Gear hash of a run of equal bytes settles on a value that never matches the mask.
        var parameters = ChunkingParameters.ForAverageSize(1024, segmentLength: 64 * 1024);
        var data = new byte[100_000];

        var chunks = new FastCdcChunker(parameters).Chunk(data);

        AssertCovers(chunks, data, parameters);
        Assert.All(chunks.SkipLast(1), c => Assert.Equal(parameters.MaxSize, c.Length));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task An_insertion_changes_no_chunk_at_a_later_segment_boundary(int workers)
    {
        // A cut forced at each segment boundary would sit at a fixed offset, so after an insertion every later boundary
        // would cut the shifted content elsewhere and cost new chunks around it.
        var original = TestData.RandomBytes(10 * (int)Small.SegmentLength + 5000, 31);
        const int position = 20_000;
        byte[] edited = [.. original.AsSpan(0, position), .. TestData.RandomBytes(333, 32), .. original.AsSpan(position)];
        var chunker = new FastCdcChunker(Small);
        using var folder = new TempDirectory("ferry-sync-chunk");
        var path = folder.Combine("edited.bin");
        await File.WriteAllBytesAsync(path, edited);
        var known = chunker.ChunkParallel(original, workers).Select(c => c.Id).ToHashSet();

        using var file = File.OpenHandle(path);
        var chunks = await CollectAsync(chunker.ChunkFileAsync(file, edited.Length, workers, readBlockSize: 7000));

        var changed = chunks.Where(c => !known.Contains(c.Id)).ToList();
        Assert.NotEmpty(changed);
        Assert.All(changed, c => Assert.True(c.Offset < position + 333 + 10 * Small.MaxSize, $"chunk {c.Offset}+{c.Length} changed"));
    }

    public static TheoryData<string> FewCutPoints => new() { "zeros after a prefix", "a short pattern repeated", "random" };

    [Theory]
    [MemberData(nameof(FewCutPoints))]
    public async Task Workers_that_never_meet_fall_back_to_serial_cutting_and_still_equal_a_serial_pass(string content)
    {
        // Zeros after random bytes: a serial pass cuts every maximal chunk from its last cut among the random bytes, a worker
        // from its segment's start, and the two are never in step; the join then cuts the next range again from the last
        // true cut. (The test asserts below that this content does need that path.)
        var length = 6 * (int)Small.SegmentLength + 999;
        var data = content switch
        {
            "zeros after a prefix" => [.. TestData.RandomBytes(10_001, 5), .. new byte[length - 10_001]],
            "a short pattern repeated" => Enumerable.Range(0, length).Select(i => (byte)(i % 7 * 37)).ToArray(),
            _ => TestData.RandomBytes(length, 6),
        };
        using var folder = new TempDirectory("ferry-sync-chunk");
        var path = folder.Combine("data.bin");
        await File.WriteAllBytesAsync(path, data);
        var chunker = new FastCdcChunker(Small);
        var serial = chunker.Chunk(data);

        using var file = File.OpenHandle(path);
        foreach (var workers in new[] { 2, 3, 7 })
        {
            Assert.Equal(serial, chunker.ChunkParallel(data, workers));
            Assert.Equal(serial, await CollectAsync(chunker.ChunkFileAsync(file, data.Length, workers, readBlockSize: 5000)));
        }
        AssertCovers(serial, data, Small);
        if (content == "zeros after a prefix")
            Assert.DoesNotContain(serial, c => c.Offset == Small.SegmentLength);
    }

    [Property(MaxTest = 40)]
    public void Read_sizes_and_split_points_do_not_change_the_chunks(PositiveInt seed, NonEmptyArray<PositiveInt> pieces, PositiveInt blockSeed)
    {
        var data = TestData.RandomBytes(150_000 + seed.Get % 50_000, seed.Get);
        var chunker = new FastCdcChunker(Small);
        var expected = chunker.Chunk(data);
        // Pieces from 1 byte up to beyond a maximal chunk, and read blocks from 1 byte to 64 KiB.
        var pieceSizes = pieces.Get.Select(p => 1 + p.Get % 9000).ToArray();
        var readBlock = 1 + blockSeed.Get % 65536;

        var streamed = CollectAsync(chunker.ChunkStreamAsync(new ChoppedStream(data, pieceSizes), readBlockSize: readBlock)).GetAwaiter().GetResult();

        Assert.Equal(expected, streamed);
    }

    [Fact]
    public void An_insertion_or_deletion_changes_only_the_chunks_near_it()
    {
        // 300 seeded edits rather than a property: how soon the chunking falls back into step is a distribution (one
        // chunk almost always, a handful rarely), so the test bounds the mean and the worst case over a fixed sample.
        var parameters = ChunkingParameters.ForAverageSize(1024, segmentLength: 1024 * 1024);
        var chunker = new FastCdcChunker(parameters);
        var random = new Random(12);
        var changedCounts = new List<int>();
        for (var edit = 0; edit < 300; edit++)
        {
            var original = TestData.RandomBytes(100_000, random.Next());
            var position = random.Next(1000, 90_000);
            var insert = edit % 2 == 0;
            var count = random.Next(1, 3000);
            byte[] edited = insert
                ? [.. original.AsSpan(0, position), .. TestData.RandomBytes(count, random.Next()), .. original.AsSpan(position)]
                : [.. original.AsSpan(0, position), .. original.AsSpan(position + count)];
            var known = chunker.Chunk(original).Select(c => (c.Id, c.Length)).ToHashSet();

            var changed = chunker.Chunk(edited).Where(c => !known.Contains((c.Id, c.Length))).ToList();

            Assert.NotEmpty(changed);
            var editEnd = insert ? position + count : position;
            Assert.All(changed, c => Assert.True(c.End > position - parameters.MaxSize && c.Offset < editEnd + 10 * parameters.MaxSize,
                $"edit {edit}: chunk {c.Offset}+{c.Length} changed, edit at {position}..{editEnd}"));
            // Chunks that hold inserted bytes are new by necessity; count the others.
            changedCounts.Add(changed.Count(c => c.End <= position || c.Offset >= editEnd));
        }

        Assert.True(changedCounts.Average() <= 2.5, $"mean {changedCounts.Average()}");
        Assert.True(changedCounts.Max() <= 12, $"worst {changedCounts.Max()}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(8)]
    public async Task Parallel_file_chunking_equals_serial_chunking(int workers)
    {
        using var folder = new TempDirectory("ferry-sync-chunk");
        var data = TestData.RandomBytes(7 * 64 * 1024 + 12345, workers);
        var path = folder.Combine("data.bin");
        await File.WriteAllBytesAsync(path, data);
        var chunker = new FastCdcChunker(Small);
        var serial = chunker.Chunk(data);

        using var file = File.OpenHandle(path);
        var fromFile = await CollectAsync(chunker.ChunkFileAsync(file, data.Length, workers, readBlockSize: 10_000));
        var inMemory = chunker.ChunkParallel(data, workers);
        var streamed = await CollectAsync(chunker.ChunkStreamAsync(new MemoryStream(data)));

        Assert.True(serial.Count > 7 * 32);
        Assert.Equal(serial, fromFile);
        Assert.Equal(serial, inMemory);
        Assert.Equal(serial, streamed);
    }

    [Fact]
    public async Task Whole_content_hash_is_computed_in_the_same_pass()
    {
        var data = TestData.RandomBytes(123_457, 9);
        var hash = new XxHash128();

        await CollectAsync(new FastCdcChunker(Small).ChunkStreamAsync(new ChoppedStream(data, [777]), hash));

        Assert.Equal(XxHash128.HashToUInt128(data), hash.GetCurrentHashAsUInt128());
    }

    /// <summary>The cut rule one byte at a time, as the FastCDC paper writes it: what the chunker's unrolled loop must equal.</summary>
    private static int ReferenceCutPoint(ReadOnlySpan<byte> window, ChunkingParameters parameters)
    {
        if (window.Length <= parameters.MinSize)
            return window.Length;
        ulong hash = 0;
        for (var i = parameters.MinSize; i < window.Length; i++)
        {
            hash = (hash << 1) + GearTable.Values[window[i]];
            var mask = i < parameters.AverageSize ? parameters.SmallChunkMask : parameters.LargeChunkMask;
            if ((hash & mask) == 0)
                return i + 1;
        }
        return window.Length;
    }

    [Property(MaxTest = 300)]
    public void The_cut_point_equals_the_one_byte_at_a_time_rule_for_any_window(PositiveInt seed, PositiveInt lengthSeed, bool lowEntropy)
    {
        var parameters = ChunkingParameters.ForAverageSize(1024 << (seed.Get % 3), segmentLength: 64 * 1024);
        // Every window length from empty to past the maximum, odd and even, and with few cut points (long cuts).
        var data = new byte[lengthSeed.Get % (parameters.MaxSize + 3)];
        var random = new Random(seed.Get);
        random.NextBytes(data);
        if (lowEntropy)
        {
            for (var i = 0; i < data.Length; i++)
                data[i] &= 1;
        }
        var chunker = new FastCdcChunker(parameters);

        Assert.Equal(ReferenceCutPoint(data, parameters), chunker.FindCutPoint(data));
        // Every start of a few windows of the same bytes, so cuts land on both parities and at both loop ends.
        for (var start = 1; start < Math.Min(data.Length, 9); start++)
            Assert.Equal(ReferenceCutPoint(data.AsSpan(start), parameters), chunker.FindCutPoint(data.AsSpan(start)));
    }

    [Fact]
    public void Cut_points_are_pinned_across_versions()
    {
        // Both ends of a sync must cut alike, whatever Ferry version each runs. These values were produced by this
        // implementation when the format was introduced; a change of the Gear table, masks or cut rule changes them and
        // makes old and new peers find almost no common chunks. Change them only with a deliberate format change.
        var data = new byte[1 << 20];
        new Random(42).NextBytes(data);

        var chunks = new FastCdcChunker(ChunkingParameters.ForAverageSize(8192)).Chunk(data);
        var encoded = Ferry.Sync.Delta.ChunkListCodec.Encode(new Ferry.Sync.Delta.ChunkList(chunks, Ferry.Sync.Delta.ChunkIdWidth.Bits128));

        Assert.Equal(115, chunks.Count);
        Assert.Equal([8979, 8476, 12590], chunks.Take(3).Select(c => c.Length));
        Assert.Equal(0x807551d0b49382abUL, XxHash3.HashToUInt64(encoded));
    }

    [Fact]
    public async Task Cancellation_stops_file_chunking()
    {
        using var folder = new TempDirectory("ferry-sync-chunk");
        var path = folder.Combine("data.bin");
        await File.WriteAllBytesAsync(path, TestData.RandomBytes(10 * 64 * 1024, 11));
        using var file = File.OpenHandle(path);
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            CollectAsync(new FastCdcChunker(Small).ChunkFileAsync(file, 10 * 64 * 1024, workers: 2, cancellationToken: cancel.Token)));
    }
}
