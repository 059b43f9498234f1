namespace Ferry.Sync.Tests;

/// <summary>The system clock moved by a fixed offset: "now" as seen long after the test wrote its files.</summary>
internal sealed class ShiftedTimeProvider(TimeSpan offset) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
}
