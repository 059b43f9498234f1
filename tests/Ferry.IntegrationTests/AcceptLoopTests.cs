using System.Net.Sockets;
using System.Text;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>Connections that die at once (reset right after the handshake) never stop the accept loop or leak.</summary>
public class AcceptLoopTests
{
    [Fact]
    public async Task Connections_reset_right_after_accept_do_not_stop_the_server()
    {
        await using var server = await TestServer.StartAsync(o => o with { UseTls = true });
        for (var i = 0; i < 200; i++)
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(server.EndPoint, TestTimeouts.Token());
            socket.LingerState = new LingerOption(true, 0); // close sends RST, mid TLS handshake on the server's side
            socket.Close();
        }
        await HostTests.WaitUntilAsync(() => server.Server.ConnectionCount == 0);

        using var clientState = new TempDirectory("ferry-client");
        await using var client = await server.ConnectAsync(new Ferry.Client.FerryClientOptions
        {
            UseTls = true,
            TrustStore = new Ferry.Client.Security.KnownServers(Path.Combine(clientState.Path, "known_servers")),
        });
        Assert.Equal("STILL HERE", Encoding.UTF8.GetString(await client.EchoAsync("still here"u8.ToArray(), TestTimeouts.Token())));
    }
}
