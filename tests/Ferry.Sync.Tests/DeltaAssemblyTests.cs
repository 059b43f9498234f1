using System.IO.Hashing;
using Ferry.Protocol.Files;
using Ferry.Sync.Chunking;
using Ferry.Sync.Delta;

namespace Ferry.Sync.Tests;

/// <summary>A delta plan carried out in file order as the shipped ranges arrive, hashed while written.</summary>
public class DeltaAssemblyTests
{
    private static readonly FastCdcChunker Chunker = new(ChunkingParameters.ForAverageSize(1024, segmentLength: 256 * 1024));

    /// <summary>The receiver's side of one assembly, in memory: its basis, the new file, every write's offset, the hash.</summary>
    private sealed class Receiver : IDisposable
    {
        public Receiver(byte[] basis, byte[] fresh)
        {
            Basis = (byte[])basis.Clone();
            var index = new ChunkIndex();
            index.AddFile("basis", Chunker.Chunk(basis));
            Plan = DeltaPlanner.Plan(new ChunkList(Chunker.Chunk(fresh), ChunkIdWidth.Bits128), index);
            Target = new byte[Plan.TargetLength];
            Hash = new AssemblyHash(ChecksumAlgorithm.Xxh3.CreateHasher(), Plan.TargetLength);
            Assembly = new DeltaAssembly(Plan.Steps, ReadBasis, ReadTarget, WriteAsync);
        }

        public byte[] Basis { get; set; }
        public DeltaPlan Plan { get; }
        public byte[] Target { get; }
        public AssemblyHash Hash { get; }
        public DeltaAssembly Assembly { get; }
        public List<long> WriteOffsets { get; } = [];

        private ValueTask<int> ReadBasis(int file, long offset, Memory<byte> buffer, CancellationToken ct) => ValueTask.FromResult(Read(Basis, offset, buffer));

        private ValueTask<int> ReadTarget(long offset, Memory<byte> buffer, CancellationToken ct) => ValueTask.FromResult(Read(Target, offset, buffer));

        private static int Read(byte[] from, long offset, Memory<byte> buffer)
        {
            var n = (int)Math.Max(0, Math.Min(buffer.Length, from.Length - offset));
            if (n > 0)
                from.AsSpan((int)offset, n).CopyTo(buffer.Span);
            return n;
        }

        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct)
        {
            data.Span.CopyTo(Target.AsSpan((int)offset));
            WriteOffsets.Add(offset);
            Hash.Written(data.Span, offset, (at, buffer) => Read(Target, at, buffer));
            return ValueTask.CompletedTask;
        }

        /// <summary>Ships every new range of <paramref name="fresh"/> in order, running the copies between them.</summary>
        public async Task ShipAsync(byte[] fresh, Action<int>? beforeRange = null)
        {
            var ranges = Plan.Steps.OfType<WriteNewChunksStep>().ToList();
            for (var i = 0; i < ranges.Count; i++)
            {
                beforeRange?.Invoke(i);
                await Assembly.AdvanceAsync(CancellationToken.None);
                var (offset, length) = (ranges[i].TargetOffset, ranges[i].Length);
                await WriteAsync(offset, fresh.AsMemory((int)offset, (int)length), CancellationToken.None);
                Assembly.Received(offset, length);
            }
            await Assembly.FinishAsync(CancellationToken.None);
        }

        public void Dispose() => Hash.Dispose();
    }

    private static byte[] Scatter(byte[] data, int seed)
    {
        var fresh = (byte[])data.Clone();
        var random = new Random(seed);
        for (var i = 0; i < 8; i++)
            random.NextBytes(fresh.AsSpan(random.Next(data.Length - 5_000), 3_000));
        return fresh;
    }

    [Fact]
    public async Task The_file_is_written_front_to_back_and_its_hash_needs_no_read()
    {
        var basis = TestData.RandomBytes(400_000, 11);
        var block = TestData.RandomBytes(20_000, 12);
        byte[] fresh = [.. Scatter(basis, 13), .. block, .. block]; // a repeat copied from within the new file too
        using var receiver = new Receiver(basis, fresh);
        Assert.Contains(receiver.Plan.Steps, s => s is CopyFromTargetStep);

        await receiver.ShipAsync(fresh);

        Assert.Equal(fresh, receiver.Target);
        Assert.Equal(receiver.WriteOffsets.Order(), receiver.WriteOffsets);
        Assert.True(receiver.Hash.IsComplete);
        Assert.Equal(XxHash128.Hash(fresh), receiver.Hash.GetHash());
    }

    [Fact]
    public async Task A_copy_waits_for_the_shipped_range_before_it()
    {
        var basis = TestData.RandomBytes(200_000, 14);
        var fresh = Scatter(basis, 15);
        using var receiver = new Receiver(basis, fresh);
        var first = receiver.Plan.Steps.OfType<WriteNewChunksStep>().First();

        await receiver.Assembly.AdvanceAsync(CancellationToken.None);
        await receiver.Assembly.AdvanceAsync(CancellationToken.None);

        Assert.All(receiver.WriteOffsets, offset => Assert.True(offset < first.TargetOffset));
        Assert.False(receiver.Assembly.IsDone);
    }

    [Fact]
    public async Task A_basis_that_changes_during_the_assembly_makes_the_hash_differ_from_the_files_it_was_planned_for()
    {
        var basis = TestData.RandomBytes(300_000, 16);
        var fresh = Scatter(basis, 17);
        using var receiver = new Receiver(basis, fresh);
        Assert.True(receiver.Plan.Steps.OfType<WriteNewChunksStep>().Count() >= 2);

        // After the first range, the rest of the basis is overwritten in place (same length): copies made later read it.
        await receiver.ShipAsync(fresh, beforeRange: i =>
        {
            if (i == 1)
                receiver.Basis = TestData.RandomBytes(basis.Length, 18);
        });

        Assert.NotEqual(fresh, receiver.Target);
        Assert.True(receiver.Hash.IsComplete);
        Assert.Equal(XxHash128.Hash(receiver.Target), receiver.Hash.GetHash()); // the hash is of what was written
        Assert.NotEqual(XxHash128.Hash(fresh), XxHash128.Hash(receiver.Target));
    }

    [Fact]
    public async Task A_basis_that_shrank_leaves_zeros_which_are_hashed_as_written()
    {
        var basis = TestData.RandomBytes(300_000, 19);
        var fresh = Scatter(basis, 20);
        using var receiver = new Receiver(basis, fresh);
        receiver.Basis = basis[..1000];

        await receiver.ShipAsync(fresh);

        Assert.Equal(receiver.Plan.TargetLength, receiver.Target.Length);
        Assert.Equal(XxHash128.Hash(receiver.Target), receiver.Hash.GetHash());
        Assert.NotEqual(XxHash128.Hash(fresh), receiver.Hash.GetHash());
    }
}
