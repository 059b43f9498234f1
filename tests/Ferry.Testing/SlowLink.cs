namespace Ferry.Testing;

/// <summary>
/// How a <see cref="LoopbackRelay"/> imitates a real network: it delivers what it reads in slices of
/// <see cref="SliceBytes"/> (one send each, so the receiver sees many small reads, as over the internet and never
/// over loopback) and at most <see cref="BytesPerSecond"/> in each direction of each connection.
/// </summary>
public sealed record SlowLink(int SliceBytes, long BytesPerSecond)
{
    /// <summary>4 KiB slices at 20 MB/s: the link on which slow-link uploads once went out of step.</summary>
    public static SlowLink Default { get; } = new(4 * 1024, 20_000_000);

    /// <summary>Ahead of the rate by less than this, the relay sends on instead of sleeping (timers are that coarse).</summary>
    internal static readonly TimeSpan PacingSlack = TimeSpan.FromMilliseconds(2);
}
