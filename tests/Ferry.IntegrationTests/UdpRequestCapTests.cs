using System.Net;
using System.Text;
using System.Text.Json;
using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Client.Udp;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Datagrams;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Server.Hosting;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// The caps on remembered UDP requests (docs/security.md "UDP exec"): a user's flood of new request ids stays within
/// <see cref="FerryServerOptions.MaxUdpRequestsPerUser"/> (its oldest finished requests are forgotten, running ones never),
/// is refused with udp_request_limit when nothing can be forgotten, never refuses another user below the global cap, and
/// a forgotten request replayed from its own proved address does not run again.
/// </summary>
public class UdpRequestCapTests
{
    private static readonly byte[] s_opsKey = Handshake.NewKey();
    private static readonly byte[] s_devKey = Handshake.NewKey();

    // Waits (in the sandbox) until the test creates the file; the server's exec timeout bounds it in any case.
    private const string Blocker = "while [ ! -e release ]; do sleep 0.05; done";

    private static Task<TestServer> StartAsync(int perUser, int global) =>
        UdpTestServer.StartAsync([UdpTestServer.User("ops", s_opsKey), UdpTestServer.User("dev", s_devKey)], o => o with
        {
            MaxUdpRequestsPerUser = perUser,
            MaxUdpRequests = global,
            MaxConcurrentExec = 16,
            // Long enough that nothing is swept and every captured datagram is still fresh on a loaded machine.
            UdpReplayWindow = TimeSpan.FromMinutes(2),
        });

    [Fact]
    public async Task A_user_over_the_request_cap_is_refused_and_other_users_are_still_served()
    {
        await using var server = await StartAsync(perUser: 3, global: 4);
        using var ops = new RawUdpPeer(server.UdpEndPoint!);
        using var dev = new RawUdpPeer(server.UdpEndPoint!);
        try
        {
            // ops fills its cap with running commands: nothing of ops may be forgotten, so its next request is refused.
            for (var i = 0; i < 3; i++)
                await StartRunningAsync(ops, "ops", s_opsKey, Blocker);
            Assert.Equal(3, server.UdpServer.RequestCountOf("ops"));
            var refused = await Assert.ThrowsAsync<FerryRemoteException>(() => RunToEndAsync(ops, "ops", s_opsKey, "echo never >> refused.txt"));
            Assert.Equal(FerryErrorCode.UdpRequestLimit, refused.Code);
            Assert.Contains("at most 3 are kept per user", refused.Message);
            Assert.Equal(3, server.UdpServer.RequestCountOf("ops"));
            Assert.Contains(server.Logs.Lines, l => l.EventId.Id == 5008);

            // dev is below the global cap (4): served, although ops keeps flooding.
            var (firstExec, first) = await RunToEndAsync(dev, "dev", s_devKey, "echo one >> runs.txt");
            Assert.Equal(0, first.Code);
            Assert.Equal(4, server.UdpServer.RequestCount);
            await Assert.ThrowsAsync<FerryRemoteException>(() => RunToEndAsync(ops, "ops", s_opsKey, "echo never >> refused.txt"));

            // At the global cap, dev's next request makes room by forgetting dev's own finished one (never ops's).
            await RunToEndAsync(dev, "dev", s_devKey, "echo two >> runs.txt");
            Assert.Equal(4, server.UdpServer.RequestCount);
            Assert.Equal(1, server.UdpServer.RequestCountOf("dev"));
            Assert.Equal(3, server.UdpServer.RequestCountOf("ops"));

            // The forgotten request, replayed from the address that proved it (its token is still valid): it does not run.
            await dev.SendAsync(firstExec);
            Assert.DoesNotContain(await dev.BarrierAsync("dev", s_devKey), a => Kind(a, s_devKey) is UdpKind.Accepted or UdpKind.Chunk);

            // dev starts a running command (forgetting "two"); with nothing of dev left to forget and the global cap
            // reached, dev is refused too, although below its own cap.
            await StartRunningAsync(dev, "dev", s_devKey, Blocker);
            var full = await Assert.ThrowsAsync<FerryRemoteException>(() => RunToEndAsync(dev, "dev", s_devKey, "echo three >> runs.txt"));
            Assert.Equal(FerryErrorCode.UdpRequestLimit, full.Code);
            Assert.Contains("of all users (at most 4)", full.Message);
            Assert.Equal(4, server.UdpServer.RequestCount);

            Assert.Equal("one\ntwo\n", await File.ReadAllTextAsync(Path.Combine(server.Root, "dev", "runs.txt")));
            Assert.False(File.Exists(Path.Combine(server.Root, "ops", "refused.txt")));
        }
        finally
        {
            await File.WriteAllTextAsync(Path.Combine(server.Root, "ops", "release"), "");
            await File.WriteAllTextAsync(Path.Combine(server.Root, "dev", "release"), "");
        }
    }

    [Fact]
    public async Task A_flood_of_requests_stays_within_the_cap_and_an_evicted_request_replayed_does_not_run()
    {
        await using var server = await StartAsync(perUser: 3, global: 1000);
        using var ops = new RawUdpPeer(server.UdpEndPoint!);
        var (exec, result) = await RunToEndAsync(ops, "ops", s_opsKey, "echo run >> flood.txt");
        Assert.Equal(0, result.Code);
        // Requests that fail (here refused before running) are finished too and make room like delivered ones.
        var invalid = JsonSerializer.SerializeToUtf8Bytes(new ExecMessage { Shell = "echo invalid >> flood.txt", TimeoutSeconds = -1 }, FerryJsonContext.Default.ExecMessage);
        var failedExecs = new List<byte[]>();
        for (var i = 0; i < 3; i++)
        {
            var id = UdpDatagram.NewRequestId();
            var token = await ops.ProveAddressAsync("ops", s_opsKey, id, invalid);
            var failedExec = RawUdpPeer.Seal(UdpKind.Exec, "ops", s_opsKey, id, ops.NextTimestamp(), token, invalid);
            await ops.SendAsync(failedExec);
            var failed = await Assert.ThrowsAsync<FerryRemoteException>(() => ops.AwaitResultAsync(s_opsKey, id));
            Assert.NotEqual(FerryErrorCode.UdpRequestLimit, failed.Code);
            failedExecs.Add(failedExec);
        }
        Assert.Equal(3, server.UdpServer.RequestCountOf("ops"));

        // Many more distinct requests than the cap: each is served (the oldest finished one makes room) and the table
        // holds at most the cap.
        for (var i = 0; i < 12; i++)
        {
            var (_, echoed) = await RunToEndAsync(ops, "ops", s_opsKey, $"echo {i}");
            Assert.Equal($"{i}\n", Encoding.UTF8.GetString(echoed.Stdout));
            Assert.InRange(server.UdpServer.RequestCountOf("ops"), 1, 3);
        }
        Assert.InRange(server.UdpServer.RequestCount, 1, 3);

        // The first request is long forgotten; its exec replayed from its own address (valid token, fresh timestamp)
        // would have run it again if eviction had simply dropped the id.
        await ops.SendAsync(exec);
        await ops.SendAsync(exec);
        foreach (var failedExec in failedExecs)
            await ops.SendAsync(failedExec); // forgotten too: dropped without an answer, not evaluated again
        Assert.Empty(await ops.BarrierAsync("ops", s_opsKey));
        Assert.Equal("run\n", await File.ReadAllTextAsync(Path.Combine(server.Root, "ops", "flood.txt")));

        // Another user is served as usual, and ops's new requests still are.
        var other = await server.UdpExecAsync(new ClientCredentials("dev", s_devKey), new ExecMessage { Shell = "echo dev" });
        Assert.Equal("dev\n", Encoding.UTF8.GetString(other.Stdout));
        await RunToEndAsync(ops, "ops", s_opsKey, "echo again >> flood.txt");
        Assert.Equal("run\nagain\n", await File.ReadAllTextAsync(Path.Combine(server.Root, "ops", "flood.txt")));
    }

    /// <summary>Proves the address, sends the exec and waits until the server says the command runs.</summary>
    private static async Task StartRunningAsync(RawUdpPeer peer, string user, byte[] key, string shell)
    {
        var id = UdpDatagram.NewRequestId();
        var payload = RawUdpPeer.ExecPayload(shell);
        var token = await peer.ProveAddressAsync(user, key, id, payload);
        await peer.SendAsync(RawUdpPeer.Seal(UdpKind.Exec, user, key, id, peer.NextTimestamp(), token, payload));
        await peer.AwaitResultAsync(key, id, stopAtAccepted: true);
    }

    /// <summary>
    /// Runs a command by hand to its end and says done, as the real client does; returns the exec datagram that carried
    /// the address token (to replay it) and the result. An error answer throws <see cref="FerryRemoteException"/>.
    /// </summary>
    private static async Task<(byte[] Exec, UdpExecResult Result)> RunToEndAsync(RawUdpPeer peer, string user, byte[] key, string shell)
    {
        var id = UdpDatagram.NewRequestId();
        var payload = RawUdpPeer.ExecPayload(shell);
        var token = await peer.ProveAddressAsync(user, key, id, payload);
        var exec = RawUdpPeer.Seal(UdpKind.Exec, user, key, id, peer.NextTimestamp(), token, payload);
        await peer.SendAsync(exec);
        var result = await peer.AwaitResultAsync(key, id);
        await peer.SendAsync(RawUdpPeer.Seal(UdpKind.Done, user, key, id, peer.NextTimestamp(), token, default));
        return (exec, result!);
    }

    private static UdpKind? Kind(byte[] datagram, byte[] key) =>
        UdpDatagram.TryDecode(datagram, key, UdpDirection.ServerToClient, out var d) ? d.Kind : null;
}
