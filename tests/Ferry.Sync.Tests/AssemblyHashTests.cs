using System.IO.Hashing;
using Ferry.Protocol.Files;
using Ferry.Sync.Delta;

namespace Ferry.Sync.Tests;

/// <summary>The whole-file hash made while a file is written at any offsets: it must always be of what the file holds.</summary>
public class AssemblyHashTests
{
    /// <summary>A file in memory that counts the bytes read back from it.</summary>
    private sealed class MemoryFile(int length)
    {
        public byte[] Bytes { get; } = new byte[length];
        public long ReadBack { get; private set; }

        public void Write(AssemblyHash hash, ReadOnlySpan<byte> data, long offset)
        {
            data.CopyTo(Bytes.AsSpan((int)offset));
            hash.Written(data, offset, Read);
        }

        public int Read(long offset, Memory<byte> buffer)
        {
            var n = (int)Math.Max(0, Math.Min(buffer.Length, Bytes.Length - offset));
            Bytes.AsSpan((int)offset, n).CopyTo(buffer.Span);
            ReadBack += n;
            return n;
        }
    }

    private static AssemblyHash HashOf(int length) => new(ChecksumAlgorithm.Xxh3.CreateHasher(), length);

    [Fact]
    public void Writes_in_order_give_the_files_hash_without_reading_anything_back()
    {
        var data = TestData.RandomBytes(300_000, 1);
        var file = new MemoryFile(data.Length);
        using var hash = HashOf(data.Length);
        for (var offset = 0; offset < data.Length; offset += 7_000)
            file.Write(hash, data.AsSpan(offset, Math.Min(7_000, data.Length - offset)), offset);

        Assert.True(hash.IsComplete);
        Assert.Equal(XxHash128.Hash(data), hash.GetHash());
        Assert.Equal(0, file.ReadBack);
    }

    [Fact]
    public void Writes_out_of_order_are_read_back_once_the_bytes_before_them_are_in()
    {
        var data = TestData.RandomBytes(100_000, 2);
        var file = new MemoryFile(data.Length);
        using var hash = HashOf(data.Length);
        file.Write(hash, data.AsSpan(60_000, 40_000), 60_000);
        file.Write(hash, data.AsSpan(20_000, 10_000), 20_000);
        file.Write(hash, data.AsSpan(30_000, 30_000), 30_000); // joins the two ranges ahead
        Assert.Equal(0, hash.HashedUpTo);
        Assert.False(hash.IsComplete);
        file.Write(hash, data.AsSpan(0, 20_000), 0);

        Assert.True(hash.IsComplete);
        Assert.Equal(XxHash128.Hash(data), hash.GetHash());
        Assert.Equal(80_000, file.ReadBack);
    }

    [Fact]
    public void Bytes_written_ahead_and_then_changed_again_ahead_are_hashed_as_the_file_holds_them()
    {
        var data = TestData.RandomBytes(50_000, 3);
        var file = new MemoryFile(data.Length);
        using var hash = HashOf(data.Length);
        file.Write(hash, new byte[30_000], 20_000); // zeros first, the real bytes later, both beyond the frontier
        file.Write(hash, data.AsSpan(20_000, 30_000), 20_000);
        file.Write(hash, data.AsSpan(0, 20_000), 0);

        Assert.Equal(XxHash128.Hash(data), hash.GetHash());
    }

    [Fact]
    public void A_write_over_bytes_already_hashed_gives_the_hash_up()
    {
        var data = TestData.RandomBytes(50_000, 4);
        var file = new MemoryFile(data.Length);
        using var hash = HashOf(data.Length);
        file.Write(hash, data.AsSpan(0, 30_000), 0);
        file.Write(hash, new byte[10], 29_995); // straddles the frontier
        file.Write(hash, data.AsSpan(30_000), 30_000);

        Assert.True(hash.IsBroken);
        Assert.False(hash.IsComplete);
        Assert.Throws<InvalidOperationException>(() => hash.GetHash());
    }

    [Fact]
    public void A_file_shorter_than_what_was_written_ahead_gives_the_hash_up()
    {
        using var hash = HashOf(20_000);
        hash.Written(new byte[10_000], 10_000, (_, _) => 0);
        hash.Written(new byte[10_000], 0, (_, _) => 0); // the read back finds nothing: the file was cut meanwhile

        Assert.True(hash.IsBroken);
    }

    [Fact]
    public void Too_many_ranges_out_of_order_give_the_hash_up_rather_than_grow_without_bound()
    {
        var length = (AssemblyHash.MaxAheadRanges + 2) * 2;
        using var hash = HashOf(length);
        for (var i = 1; i <= AssemblyHash.MaxAheadRanges + 1 && !hash.IsBroken; i++)
            hash.Written(new byte[1], i * 2, (_, _) => 0);

        Assert.True(hash.IsBroken);
    }

    [Fact]
    public void A_resumed_hash_continues_after_the_prefix_it_was_given()
    {
        var data = TestData.RandomBytes(10_000, 5);
        var hasher = ChecksumAlgorithm.Xxh3.CreateHasher();
        hasher.Append(data.AsSpan(0, 4_000));
        using var hash = new AssemblyHash(hasher, data.Length, hashedUpTo: 4_000);
        hash.Written(data.AsSpan(4_000), 4_000, (_, _) => 0);

        Assert.Equal(XxHash128.Hash(data), hash.GetHash());
    }
}
