using System.Net;
using System.Text.Json;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// The login throttle (docs/security.md, "Login throttling"): per IPv4 address and per IPv6 /64, a server-wide budget,
/// and bounded memory. Time is a <see cref="ManualTimeProvider"/>, so windows pass without sleeping.
/// </summary>
public class AuthThrottleTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private readonly ManualTimeProvider _time = new();

    private AuthThrottle NewThrottle(int perNetwork = 3, int total = 1000, int tracked = 10_000) => new(perNetwork, Window, _time, total, tracked);

    private static void Fail(AuthThrottle throttle, string address, int times = 1)
    {
        for (var i = 0; i < times; i++)
            throttle.RecordFailure(IPAddress.Parse(address));
    }

    [Fact]
    public void Every_address_of_an_ipv6_64_shares_one_budget()
    {
        var throttle = NewThrottle();
        Fail(throttle, "2001:db8:1:2::1");
        Fail(throttle, "2001:db8:1:2:ffff:ffff:ffff:ffff");
        Fail(throttle, "2001:db8:1:2:1234::99");
        Assert.True(throttle.IsThrottled(IPAddress.Parse("2001:db8:1:2:dead:beef::1")));
        // The next /64 over is another network.
        Assert.False(throttle.IsThrottled(IPAddress.Parse("2001:db8:1:3::1")));
        Assert.Equal(1, throttle.TrackedNetworks);
    }

    [Fact]
    public void Ipv4_is_counted_per_exact_address_and_a_mapped_address_is_the_same_one()
    {
        var throttle = NewThrottle();
        Fail(throttle, "192.0.2.10", 2);
        Fail(throttle, "::ffff:192.0.2.10");
        Assert.True(throttle.IsThrottled(IPAddress.Parse("192.0.2.10")));
        Assert.False(throttle.IsThrottled(IPAddress.Parse("192.0.2.11")));
    }

    [Fact]
    public void A_network_is_let_in_again_once_its_failures_leave_the_window()
    {
        var throttle = NewThrottle();
        Fail(throttle, "192.0.2.1", 3);
        Assert.True(throttle.IsThrottled(IPAddress.Parse("192.0.2.1")));
        _time.Advance(Window - TimeSpan.FromSeconds(1));
        Assert.True(throttle.IsThrottled(IPAddress.Parse("192.0.2.1")));
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.False(throttle.IsThrottled(IPAddress.Parse("192.0.2.1")));
        Assert.Equal(0, throttle.TrackedNetworks);
    }

    [Fact]
    public void Past_the_global_budget_networks_that_failed_lately_are_refused_and_clean_ones_are_not()
    {
        var throttle = NewThrottle(perNetwork: 5, total: 10);
        for (var i = 0; i < 10; i++)
            Fail(throttle, $"198.51.100.{i}"); // one failure each: no network is over its own limit
        Assert.True(throttle.IsThrottled(IPAddress.Parse("198.51.100.3")));
        Assert.False(throttle.IsThrottled(IPAddress.Parse("203.0.113.7"))); // never failed: still checked
        _time.Advance(Window + TimeSpan.FromSeconds(1));
        Assert.False(throttle.IsThrottled(IPAddress.Parse("198.51.100.3")));
    }

    [Fact]
    public void Old_entries_are_pruned_and_the_table_never_outgrows_its_cap()
    {
        var throttle = NewThrottle(tracked: 100);
        for (var i = 0; i < 500; i++)
            Fail(throttle, $"2001:db8:{i:x}::1");
        Assert.Equal(100, throttle.TrackedNetworks);
        // The ones kept are the most recent: the last network still counts, the first was forgotten.
        Fail(throttle, $"2001:db8:{499:x}::2", 2);
        Assert.True(throttle.IsThrottled(IPAddress.Parse($"2001:db8:{499:x}::3")));

        _time.Advance(Window + TimeSpan.FromSeconds(1));
        Fail(throttle, "192.0.2.1");
        Assert.Equal(1, throttle.TrackedNetworks);
    }

    [Fact]
    public void A_flood_from_one_network_costs_no_more_memory_than_its_limit()
    {
        var throttle = NewThrottle(total: 50);
        Fail(throttle, "192.0.2.1", 100_000);
        Assert.True(throttle.IsThrottled(IPAddress.Parse("192.0.2.1")));
        Assert.Equal(1, throttle.TrackedNetworks);
    }

    /// <summary>
    /// Over real sockets: failures from three loopback addresses spend the server-wide budget, after which one of them is
    /// refused unchecked even with the right key, while an address with a clean record logs in.
    /// </summary>
    [Fact]
    public async Task The_global_budget_holds_across_addresses_on_a_live_server()
    {
        await using var login = await LoginServer.StartAsync([("alice", null)], o => o with
        {
            AuthFailureDelay = TimeSpan.Zero,
            MaxAuthFailures = 100, // no single address comes near its own limit
            MaxAuthFailuresTotal = 3,
        });
        var server = login.Server;
        var key = login.Key("alice");

        foreach (var from in new[] { "127.0.0.2", "127.0.0.3", "127.0.0.4" })
            Assert.Equal("authentication_failed", await LoginAsync(server, IPAddress.Parse(from), Handshake.NewKey()));
        Assert.Equal("authentication_throttled", await LoginAsync(server, IPAddress.Parse("127.0.0.3"), key));
        Assert.Equal("auth_ok", await LoginAsync(server, IPAddress.Parse("127.0.0.5"), key));
    }

    /// <summary>A raw plain-TCP login from <paramref name="from"/>: the error code, or "auth_ok".</summary>
    private static async Task<string> LoginAsync(TestServer server, IPAddress from, byte[] key)
    {
        await using var raw = await RawConnection.ConnectAsync(server.EndPoint, from);
        await raw.SendHelloAsync();
        var hello = JsonSerializer.Deserialize((await raw.ReadAsync())!.Json, FerryJsonContext.Default.HelloMessage)!;
        var clientChallenge = Handshake.NewChallenge();
        var transcript = Handshake.Transcript(ProtocolVersion.Current, hello.Challenge!, clientChallenge, "alice", []);
        await raw.SendAsync(FrameBytes.Frame(JsonSerializer.Serialize(
            new AuthMessage { User = "alice", Challenge = clientChallenge, Proof = Handshake.ClientProof(key, transcript) },
            FerryJsonContext.Default.AuthMessage)));
        var reply = (await raw.ReadAsync())!;
        return reply.Command == "auth_ok" ? "auth_ok" : JsonDocument.Parse(reply.Json).RootElement.GetProperty("code").GetString()!;
    }
}
