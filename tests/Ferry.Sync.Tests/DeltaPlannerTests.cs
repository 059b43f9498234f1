using FsCheck;
using FsCheck.Xunit;
using Ferry.Sync.Chunking;
using Ferry.Sync.Delta;

namespace Ferry.Sync.Tests;

public class DeltaPlannerTests
{
    private static readonly FastCdcChunker Chunker = new(ChunkingParameters.ForAverageSize(1024, segmentLength: 256 * 1024));

    private static ChunkList ListOf(byte[] data, ChunkIdWidth width = ChunkIdWidth.Bits128) => new(Chunker.Chunk(data), width);

    private static (DeltaPlan Plan, byte[] Rebuilt) PlanAndApply(byte[] newFile, IReadOnlyDictionary<string, byte[]> receiverFiles, ChunkIdWidth width = ChunkIdWidth.Bits128)
    {
        var index = new ChunkIndex();
        foreach (var (path, content) in receiverFiles)
            index.AddFile(path, Chunker.Chunk(content));
        var plan = DeltaPlanner.Plan(ListOf(newFile, width), index);
        return (plan, PlanApplier.Apply(plan, receiverFiles, newFile));
    }

    [Fact]
    public void An_unchanged_file_is_one_copy_and_sends_nothing()
    {
        var data = TestData.RandomBytes(200_000, 1);

        var (plan, rebuilt) = PlanAndApply(data, new Dictionary<string, byte[]> { ["a"] = data });

        Assert.Equal(data, rebuilt);
        Assert.Equal(0, plan.BytesToSend);
        Assert.Equal(new CopyFromBasisStep(0, data.Length, 0, 0), Assert.Single(plan.Steps));
    }

    [Fact]
    public void A_renamed_file_costs_nothing()
    {
        // The receiver has no old copy of "new-name"; its index holds the other files of the tree.
        var moved = TestData.RandomBytes(150_000, 2);
        var receiver = new Dictionary<string, byte[]>
        {
            ["unrelated"] = TestData.RandomBytes(50_000, 3),
            ["old-name"] = moved,
        };

        var (plan, rebuilt) = PlanAndApply(moved, receiver);

        Assert.Equal(moved, rebuilt);
        Assert.Equal(0, plan.BytesToSend);
        var copy = Assert.IsType<CopyFromBasisStep>(Assert.Single(plan.Steps));
        Assert.Equal("old-name", plan.BasisFiles[copy.BasisFileId]);
    }

    [Fact]
    public void A_new_file_is_sent_whole()
    {
        var data = TestData.RandomBytes(100_000, 4);

        var (plan, rebuilt) = PlanAndApply(data, new Dictionary<string, byte[]>());

        Assert.Equal(data, rebuilt);
        Assert.Equal(data.Length, plan.BytesToSend);
        var write = Assert.IsType<WriteNewChunksStep>(Assert.Single(plan.Steps));
        Assert.Equal(plan.NewChunks.Count, write.NewChunkCount);
    }

    [Fact]
    public void An_edit_in_the_middle_sends_about_the_edited_chunks()
    {
        var old = TestData.RandomBytes(300_000, 5);
        byte[] edited = [.. old.AsSpan(0, 150_000), .. TestData.RandomBytes(3000, 6), .. old.AsSpan(151_000)];

        var (plan, rebuilt) = PlanAndApply(edited, new Dictionary<string, byte[]> { ["f"] = old });

        Assert.Equal(edited, rebuilt);
        Assert.InRange(plan.BytesToSend, 3000, 3000 + 6 * Chunker.Parameters.MaxSize);
        // Before the edit, one copy; the new data; after it, copies again (a chunk or two after the edit can be cut where
        // no old chunk was, and chunks of the old copy that happen to match there break the copy in pieces).
        Assert.IsType<CopyFromBasisStep>(plan.Steps[0]);
        Assert.IsType<CopyFromBasisStep>(plan.Steps[^1]);
        Assert.True(plan.Steps.Count <= 6, $"{plan.Steps.Count} steps");
    }

    [Fact]
    public void A_chunk_repeated_in_the_new_file_is_sent_once()
    {
        var block = TestData.RandomBytes(20_000, 7);
        var filler = TestData.RandomBytes(30_000, 8);
        byte[] data = [.. block, .. filler, .. block, .. block];

        var (plan, rebuilt) = PlanAndApply(data, new Dictionary<string, byte[]>());

        Assert.Equal(data, rebuilt);
        Assert.Contains(plan.Steps, s => s is CopyFromTargetStep);
        Assert.True(plan.BytesToSend < block.Length + filler.Length + 4 * Chunker.Parameters.MaxSize, $"{plan.BytesToSend} sent");
        Assert.Equal(plan.NewChunks.Count, plan.NewChunks.Select(c => (c.Id, c.Length)).Distinct().Count());
        Assert.Equal(data.Length, plan.BytesToSend + plan.BytesFromBasis + plan.BytesRepeated);
    }

    [Fact]
    public void Repeated_content_in_the_old_file_is_reused_and_the_longest_run_kept()
    {
        // Zeros give identical maximal chunks: every one of them matches many places of the old copy.
        var old = new byte[100_000];
        var data = new byte[120_000];

        var (plan, rebuilt) = PlanAndApply(data, new Dictionary<string, byte[]> { ["zeros"] = old });

        Assert.Equal(data, rebuilt);
        Assert.True(plan.BytesToSend <= Chunker.Parameters.MaxSize * 2, $"{plan.BytesToSend} sent");
        Assert.True(plan.Steps.Count <= 8, $"{plan.Steps.Count} steps");
    }

    [Fact]
    public void The_old_copy_is_preferred_over_other_files_with_the_same_chunks()
    {
        var data = TestData.RandomBytes(80_000, 9);
        var receiver = new Dictionary<string, byte[]> { ["old-copy"] = data, ["duplicate"] = data };
        var index = new ChunkIndex();
        index.AddFile("old-copy", Chunker.Chunk(data));
        index.AddFile("duplicate", Chunker.Chunk(data));

        var plan = DeltaPlanner.Plan(ListOf(data), index);

        Assert.Equal(new CopyFromBasisStep(0, data.Length, 0, 0), Assert.Single(plan.Steps));
        Assert.Equal(data, PlanApplier.Apply(plan, receiver, data));
    }

    [Fact]
    public void Short_ids_match_on_their_64_bits()
    {
        var data = TestData.RandomBytes(90_000, 10);

        var (plan, rebuilt) = PlanAndApply(data, new Dictionary<string, byte[]> { ["f"] = data }, ChunkIdWidth.Bits64);
        var decoded = ChunkListCodec.Decode(ChunkListCodec.Encode(ListOf(data, ChunkIdWidth.Bits64)));
        var index = new ChunkIndex();
        index.AddFile("f", Chunker.Chunk(data));
        var planFromWire = DeltaPlanner.Plan(decoded, index);

        Assert.Equal(data, rebuilt);
        Assert.Equal(0, plan.BytesToSend);
        Assert.Equal(0, planFromWire.BytesToSend);
    }

    [Fact]
    public void A_chunk_with_the_same_id_but_another_length_is_not_a_match()
    {
        var data = TestData.RandomBytes(3000, 11);
        var index = new ChunkIndex();
        var id = ChunkId.Of(data);
        index.AddFile("f", [new Chunk(0, 2999, id)]);

        Assert.False(index.TryFind(id, 3000, ChunkIdWidth.Bits128, null, out _));
        Assert.True(index.TryFind(id, 2999, ChunkIdWidth.Bits128, null, out _));
    }

    [Property(MaxTest = 30)]
    public void Any_mix_of_old_and_new_content_is_rebuilt_exactly(PositiveInt seed)
    {
        var random = new Random(seed.Get);
        var oldA = TestData.RandomBytes(random.Next(0, 60_000), random.Next());
        var oldB = TestData.RandomBytes(random.Next(0, 60_000), random.Next());
        var pieces = new List<byte>();
        for (var i = 0; i < random.Next(1, 8); i++)
        {
            var source = random.Next(3) switch { 0 => oldA, 1 => oldB, _ => TestData.RandomBytes(5000, random.Next()) };
            var start = random.Next(0, source.Length + 1);
            pieces.AddRange(source.Skip(start).Take(random.Next(0, 30_000)));
        }
        var data = pieces.ToArray();

        var (plan, rebuilt) = PlanAndApply(data, new Dictionary<string, byte[]> { ["a"] = oldA, ["b"] = oldB });

        Assert.Equal(data, rebuilt);
        Assert.Equal(data.Length, plan.BytesToSend + plan.BytesFromBasis + plan.BytesRepeated);
    }
}
