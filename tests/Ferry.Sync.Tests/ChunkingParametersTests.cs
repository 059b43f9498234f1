using Ferry.Sync.Chunking;

namespace Ferry.Sync.Tests;

public class ChunkingParametersTests
{
    [Theory]
    [InlineData(0L, 8 * 1024)]
    [InlineData(1L, 8 * 1024)]
    [InlineData(1L << 20, 8 * 1024)] // √1 MiB = 1 KiB → 256 B, raised to the 8 KiB floor
    [InlineData(1L << 28, 8 * 1024)] // √256 MiB = 16 KiB → 4 KiB, raised to the floor
    [InlineData((1L << 30) - 1, 8 * 1024)] // log2 just under 30: √ ≈ 2^15 → 8 KiB
    [InlineData(1L << 30, 8 * 1024)] // 1 GiB → 8 KiB
    [InlineData(1L << 31, 16 * 1024)] // √2^31 = 2^15.5 rounds up to 2^16 → 16 KiB
    [InlineData(16L << 30, 32 * 1024)] // 16 GiB → 32 KiB
    [InlineData(64L << 30, 64 * 1024)] // 64 GiB → 64 KiB, exactly 2^20 chunks
    [InlineData(256L << 30, 256 * 1024)] // 256 GiB: √ gives 128 KiB, but 2^20 chunks need 256 KiB
    [InlineData((200L << 30) + 1, 256 * 1024)] // 2^20 chunks need over 200 KiB: the next power of two
    [InlineData(long.MaxValue, 256 * 1024)] // capped
    public void Average_scales_with_the_square_root_of_the_file_length(long length, int expectedAverage)
    {
        var parameters = ChunkingParameters.ForFileLength(length);

        Assert.Equal(expectedAverage, parameters.AverageSize);
        Assert.Equal(expectedAverage / 4, parameters.MinSize);
        Assert.Equal(expectedAverage * 4, parameters.MaxSize);
        Assert.Equal(ChunkingParameters.DefaultSegmentLength, parameters.SegmentLength);
        if (length <= ChunkingParameters.MostChunksPerFile * ChunkingParameters.LargestScaledAverage)
            Assert.True(length / parameters.AverageSize <= ChunkingParameters.MostChunksPerFile);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(32)]
    [InlineData(3000)]
    [InlineData(8 * 1024 * 1024)]
    public void Override_must_be_a_power_of_two_within_range(int average) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkingParameters.ForAverageSize(average));

    [Fact]
    public void Segment_must_hold_a_maximal_chunk()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkingParameters.ForAverageSize(1024, segmentLength: 4095));
        Assert.Equal(4096, ChunkingParameters.ForAverageSize(1024, segmentLength: 4096).SegmentLength);
    }

    [Fact]
    public void Masks_have_two_bits_more_and_two_less_than_the_average_exponent()
    {
        var parameters = ChunkingParameters.ForAverageSize(16 * 1024);

        Assert.Equal(16UL, ulong.PopCount(parameters.SmallChunkMask));
        Assert.Equal(12UL, ulong.PopCount(parameters.LargeChunkMask));
        // Only bits that see a window of at least 25 bytes of the Gear hash.
        Assert.Equal(0UL, (parameters.SmallChunkMask | parameters.LargeChunkMask) & ((1UL << 24) - 1));
        // Nested: a cut candidate before the average is also one after it.
        Assert.Equal(parameters.LargeChunkMask, parameters.SmallChunkMask & parameters.LargeChunkMask);
    }

    [Fact]
    public void Equal_inputs_give_equal_parameters() =>
        Assert.Equal(ChunkingParameters.ForFileLength(1L << 30), ChunkingParameters.ForAverageSize(8 * 1024));
}
