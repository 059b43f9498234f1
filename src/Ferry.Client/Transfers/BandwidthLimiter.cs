namespace Ferry.Client.Transfers;

/// <summary>
/// A token bucket over data bytes, shared by every connection of a transfer: each data frame body takes its bytes
/// before it is written or after it is read, and waits while the bucket is empty. The bucket holds at most a quarter
/// second of bytes, so a pause is not followed by a burst.
/// </summary>
internal sealed class BandwidthLimiter
{
    private readonly Lock _lock = new();
    private readonly double _bytesPerSecond;
    private readonly double _capacity;
    private readonly TimeProvider _time;
    private double _tokens;
    private long _lastRefill;

    public BandwidthLimiter(long bytesPerSecond, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytesPerSecond, 1);
        _bytesPerSecond = bytesPerSecond;
        _capacity = Math.Max(64 * 1024, bytesPerSecond / 4.0);
        _time = time ?? TimeProvider.System;
        _tokens = _capacity;
        _lastRefill = _time.GetTimestamp();
    }

    /// <summary>Takes <paramref name="bytes"/>, waiting as long as their share of the rate needs.</summary>
    public async ValueTask TakeAsync(long bytes, CancellationToken cancellationToken)
    {
        if (bytes <= 0)
            return;
        TimeSpan wait;
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            _tokens = Math.Min(_capacity, _tokens + _time.GetElapsedTime(_lastRefill, now).TotalSeconds * _bytesPerSecond);
            _lastRefill = now;
            // Going into debt lets a frame larger than the bucket pass; the debt is the wait.
            _tokens -= bytes;
            wait = _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / _bytesPerSecond);
        }
        if (wait > TimeSpan.Zero)
            await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
    }
}
