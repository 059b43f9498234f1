using System.Net.Sockets;
using System.Text;
using Ferry.Protocol.Errors;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

public class EchoTests
{
    [Fact]
    public async Task Hello_announces_version_and_features()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        Assert.Equal(1, client.ServerHello.Version);
        Assert.Contains("echo", client.ServerHello.Features!);
        Assert.StartsWith("ferry-server/", client.ServerHello.Agent);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(5 * 1024 * 1024)] // larger than every buffer between the two ends
    public async Task Echo_returns_the_body_upper_cased(int size)
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        var body = new byte[size];
        new Random(size).NextBytes(body);
        var expected = body.Select(b => b is >= (byte)'a' and <= (byte)'z' ? (byte)(b - 32) : b).ToArray();
        Assert.Equal(expected, await client.EchoAsync(body, TestTimeouts.Token()));
    }

    [Fact]
    public async Task Echo_leaves_non_ascii_text_alone()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        Assert.Equal("HéLLO 世界", Encoding.UTF8.GetString(await client.EchoAsync(Encoding.UTF8.GetBytes("héllo 世界"), TestTimeouts.Token())));
    }

    [Fact]
    public async Task Echo_over_its_limit_is_refused()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxEchoBytes = 10 });
        await using var client = await server.ConnectAsync();
        var ex = await Assert.ThrowsAsync<FerryRemoteException>(() => client.EchoAsync(new byte[11], TestTimeouts.Token()));
        Assert.Equal(FerryErrorCode.BodyTooLarge, ex.Code);
    }

    [Fact]
    public async Task Many_commands_on_one_connection_stay_in_order()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        for (var i = 0; i < 200; i++)
            Assert.Equal($"MSG-{i}", Encoding.UTF8.GetString(await client.EchoAsync(Encoding.UTF8.GetBytes($"msg-{i}"), TestTimeouts.Token())));
    }

    [Fact]
    public async Task Concurrent_clients_are_served_at_once()
    {
        await using var server = await TestServer.StartAsync();
        var tasks = Enumerable.Range(0, 50).Select(async i =>
        {
            await using var client = await server.ConnectAsync();
            return Encoding.UTF8.GetString(await client.EchoAsync(Encoding.UTF8.GetBytes($"c{i}"), TestTimeouts.Token()));
        });
        var replies = await Task.WhenAll(tasks);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"C{i}"), replies);
    }

    [Fact]
    public async Task Ipv6_loopback_listener_works_beside_ipv4()
    {
        if (!Socket.OSSupportsIPv6)
            return;
        await using var server = await TestServer.StartAsync(o => o with
        {
            Listen = [new(System.Net.IPAddress.Loopback, 0), new(System.Net.IPAddress.IPv6Loopback, 0)],
        });
        var v6 = server.Server.EndPoints[1];
        await using var client = await Ferry.Client.FerryClient.ConnectAsync(new("::1", v6.Port), new Ferry.Client.FerryClientOptions { UseTls = false }, TestTimeouts.Token());
        Assert.Equal("V6", Encoding.UTF8.GetString(await client.EchoAsync("v6"u8.ToArray(), TestTimeouts.Token())));
    }
}
