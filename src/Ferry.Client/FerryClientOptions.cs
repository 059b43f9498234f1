using Ferry.Protocol.Framing;

namespace Ferry.Client;

/// <summary>Client settings.</summary>
public sealed record FerryClientOptions
{
    /// <summary>Time allowed for the TCP connect and the hello exchange. Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Frame bounds applied to what the server sends.</summary>
    public FrameLimits Frames { get; init; } = FrameLimits.Default;

    /// <summary>Announced in hello, for the server's logs.</summary>
    public string Agent { get; init; } = $"ferry-client/{typeof(FerryClientOptions).Assembly.GetName().Version?.ToString(3)}";
}
