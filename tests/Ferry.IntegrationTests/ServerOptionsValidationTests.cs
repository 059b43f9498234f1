using Ferry.Server.Hosting;

namespace Ferry.IntegrationTests;

/// <summary>
/// <see cref="FerryServerOptions.Validate"/> refuses the UDP values that would make the service useless or misbehave,
/// for hosts that build the options themselves rather than through <c>ferry serve</c>'s settings.
/// </summary>
public class ServerOptionsValidationTests
{
    public static TheoryData<string, string> BadOptions => new()
    {
        // a setting the case breaks, and its name as the exception gives it
        { "replay window 0", nameof(FerryServerOptions.UdpReplayWindow) },
        { "replay window infinite", nameof(FerryServerOptions.UdpReplayWindow) },
        { "retention negative", nameof(FerryServerOptions.UdpResultRetention) },
        { "output negative", nameof(FerryServerOptions.MaxUdpOutputBytes) },
        { "per-user budget 0", nameof(FerryServerOptions.MaxUdpResultBytesPerUser) },
        { "total budget below a result's head", nameof(FerryServerOptions.MaxUdpResultBytes) },
        { "request cap 0", nameof(FerryServerOptions.MaxUdpRequests) },
    };

    private static FerryServerOptions Case(string name) => name switch
    {
        "replay window 0" => new() { UdpReplayWindow = TimeSpan.Zero },
        "replay window infinite" => new() { UdpReplayWindow = Timeout.InfiniteTimeSpan },
        "retention negative" => new() { UdpResultRetention = TimeSpan.FromSeconds(-1) },
        "output negative" => new() { MaxUdpOutputBytes = -1 },
        "per-user budget 0" => new() { MaxUdpResultBytesPerUser = 0 },
        "total budget below a result's head" => new() { MaxUdpResultBytes = 1000 },
        "request cap 0" => new() { MaxUdpRequests = 0 },
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "no such case"),
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void A_bad_udp_option_is_refused_naming_it(string name, string setting)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => Case(name).Validate());
        Assert.Equal(setting, ex.ParamName);
        Assert.Contains(setting, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_defaults_and_the_smallest_budgets_are_accepted()
    {
        new FerryServerOptions().Validate();
        new FerryServerOptions
        {
            MaxUdpResultBytesPerUser = FerryServerOptions.MinUdpResultBytes,
            MaxUdpResultBytes = FerryServerOptions.MinUdpResultBytes,
            MaxUdpOutputBytes = 0,
            UdpReplayWindow = TimeSpan.FromMilliseconds(1),
        }.Validate();
    }
}
