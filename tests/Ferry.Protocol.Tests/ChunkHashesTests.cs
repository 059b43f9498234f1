using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Messages;

namespace Ferry.Protocol.Tests;

/// <summary>The one routine that hashes a prefix chunk by chunk, and the one mapping of an error frame.</summary>
public class ChunkHashesTests
{
    private static ChecksumAlgorithm.ReadAt Over(byte[] data, int maxRead = int.MaxValue) => (buffer, position, _) =>
    {
        var n = (int)Math.Clamp(data.Length - position, 0, Math.Min(buffer.Length, maxRead));
        data.AsSpan((int)position, n).CopyTo(buffer.Span);
        return ValueTask.FromResult(n);
    };

    [Theory]
    [InlineData(10_000, 4096, int.MaxValue)]
    [InlineData(8192, 4096, 1000)]
    [InlineData(3 * 1024 * 1024 + 7, 1024 * 1024, 65_536)]
    public async Task Every_whole_chunk_is_hashed_and_the_whole_hasher_sees_every_byte(int length, int chunkSize, int maxRead)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        var algorithm = ChecksumAlgorithm.Xxh3;
        using var whole = algorithm.CreateHasher();

        var hashes = await ChunkHashes.ComputeAsync(Over(data, maxRead), length, chunkSize, algorithm, whole, CancellationToken.None);

        var expected = Enumerable.Range(0, length / chunkSize).SelectMany(i => algorithm.Hash(data.AsSpan(i * chunkSize, chunkSize))).ToArray();
        Assert.Equal(expected, hashes);
        Assert.Equal(algorithm.Hash(data), whole.GetHashAndReset());
    }

    [Fact]
    public async Task Chunk_size_zero_only_feeds_the_whole_hasher()
    {
        var data = "some bytes"u8.ToArray();
        using var whole = ChecksumAlgorithm.Sha256.CreateHasher();
        var hashes = await ChunkHashes.ComputeAsync(Over(data), data.Length, 0, ChecksumAlgorithm.Sha256, whole, CancellationToken.None);
        Assert.Empty(hashes);
        Assert.Equal(ChecksumAlgorithm.Sha256.Hash(data), whole.GetHashAndReset());
    }

    [Fact]
    public async Task A_source_that_ends_early_is_an_io_error()
    {
        var data = new byte[5000];
        await Assert.ThrowsAsync<IOException>(async () =>
            await ChunkHashes.ComputeAsync(Over(data), 9000, 4096, ChecksumAlgorithm.Xxh3, null, CancellationToken.None));
    }

    [Fact]
    public async Task Negative_lengths_are_refused()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
            await ChunkHashes.ComputeAsync(Over([]), -1, 4096, ChecksumAlgorithm.Xxh3, null, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
            await ChunkHashes.ComputeAsync(Over([]), 10, -4096, ChecksumAlgorithm.Xxh3, null, CancellationToken.None));
    }

    [Fact]
    public void The_matching_prefix_stops_at_the_first_difference()
    {
        static byte[] Hashes(params byte[] units) => units.SelectMany(u => Enumerable.Repeat(u, 16)).ToArray();
        var local = Hashes(1, 2, 3);
        Assert.Equal(1, ChunkHashes.MatchingPrefix(local, Hashes(1, 9, 3), ChecksumAlgorithm.Xxh3));
        Assert.Equal(2, ChunkHashes.MatchingPrefix(local, Hashes(1, 2), ChecksumAlgorithm.Xxh3));
        Assert.Equal(0, ChunkHashes.MatchingPrefix(local, [], ChecksumAlgorithm.Xxh3));
    }

    [Fact]
    public void An_error_frame_becomes_a_remote_exception_with_its_code_and_keeps_unknown_codes()
    {
        var known = new ErrorMessage { Code = "not_found", Message = "gone" }.ToException();
        Assert.Equal(FerryErrorCode.NotFound, known.Code);
        Assert.Equal("not_found", known.WireCode);
        Assert.Equal("gone", known.Message);
        var unknown = new ErrorMessage { Code = "from_the_future", Message = "?" }.ToException();
        Assert.Equal("from_the_future", unknown.WireCode);
    }
}
