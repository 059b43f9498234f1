using Ferry.Cli.Commands;

namespace Ferry.IntegrationTests.Sync;

/// <summary>--bwlimit is written as rsync's: a number, an optional unit, KiB/s by default.</summary>
public class BandwidthRateTests
{
    [Theory]
    [InlineData("500", 512_000L)]
    [InlineData("500K", 512_000L)]
    [InlineData("500k", 512_000L)]
    [InlineData("500KiB", 512_000L)]
    [InlineData("1KB", 1_000L)]
    [InlineData("100B", 100L)]
    [InlineData("10M", 10_485_760L)]
    [InlineData("2MB", 2_000_000L)]
    [InlineData("1.5G", 1_610_612_736L)]
    [InlineData("1GB", 1_000_000_000L)]
    public void Rates_are_bytes_per_second(string text, long expected)
    {
        Assert.True(BandwidthRate.TryParse(text, out var rate, out var problem), problem);
        Assert.Equal(expected, rate);
    }

    [Fact]
    public void Zero_means_no_limit()
    {
        Assert.True(BandwidthRate.TryParse("0", out var rate, out _));
        Assert.Null(rate);
    }

    [Theory]
    [InlineData("")]
    [InlineData("K")]
    [InlineData("-1K")]
    [InlineData("10X")]
    [InlineData("1.2.3M")]
    [InlineData("0.5B")]
    [InlineData("99999999999999999999G")]
    public void Anything_else_is_refused_with_a_sentence(string text)
    {
        Assert.False(BandwidthRate.TryParse(text, out _, out var problem));
        Assert.False(string.IsNullOrEmpty(problem));
    }
}
