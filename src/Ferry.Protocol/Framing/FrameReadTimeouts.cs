namespace Ferry.Protocol.Framing;

/// <summary>
/// Deadlines a frame reader enforces. <see cref="Idle"/> bounds the wait for the first byte of a frame and for each
/// piece of a body; <see cref="Header"/> bounds the time from a frame's first byte to its complete header, which is
/// what defeats a slow-loris peer that drips a header a byte at a time.
/// </summary>
public readonly record struct FrameReadTimeouts(TimeSpan Idle, TimeSpan Header)
{
    /// <summary>No deadlines (a client waiting for a long-running command).</summary>
    public static FrameReadTimeouts None => new(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
}
