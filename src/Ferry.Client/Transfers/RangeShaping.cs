namespace Ferry.Client.Transfers;

/// <summary>How data frames travel: zstd per block (docs/protocol.md §5.9.4) and a bandwidth cap. Plain transfers use <see cref="None"/>.</summary>
internal sealed record RangeShaping(bool Compress, BandwidthLimiter? Limiter)
{
    public static RangeShaping None { get; } = new(false, null);

    /// <summary>Uncompressed, capped at <paramref name="bytesPerSecond"/> (null: <see cref="None"/>).</summary>
    public static RangeShaping Limited(long? bytesPerSecond) =>
        bytesPerSecond is { } rate ? new(false, new BandwidthLimiter(rate)) : None;

    /// <summary>The <c>encoding</c> value of zstd-compressed data frames.</summary>
    public const string Zstd = "zstd";

    /// <summary>Largest block a compressed data frame may decompress to (§5.9.4).</summary>
    public const int MaxRawBlock = 16 * 1024 * 1024;
}
