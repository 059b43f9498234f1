using System.Net;
using System.Text;
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
/// UDP exec against a hostile network (docs/security.md "UDP exec"): extreme and throwing inputs do not stop the server,
/// kept results have a byte budget, requests are bound to the address that proved it receives (at most 3x back to any
/// other), payloads are sealed with AES-GCM, and a request replayed after a restart does not run again.
/// </summary>
public class UdpHardeningTests : IAsyncLifetime
{
    private static readonly byte[] s_key = Handshake.NewKey();
    private static readonly byte[] s_otherKey = Handshake.NewKey();
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static ClientCredentials Ops => new("ops", s_key);

    private static Task<TestServer> StartAsync(Func<FerryServerOptions, FerryServerOptions>? configure = null) =>
        UdpTestServer.StartAsync([UdpTestServer.User("ops", s_key), UdpTestServer.User("dev", s_otherKey)], configure);

    private static Task<UdpExecResult> ExecAsync(TestServer server, string shell, ClientCredentials? credentials = null) =>
        server.UdpExecAsync(credentials ?? Ops, new ExecMessage { Shell = shell });

    [Fact]
    public async Task Extreme_timestamps_are_dropped_and_the_server_keeps_serving()
    {
        using var peer = new RawUdpPeer(_server.UdpEndPoint!);
        var payload = RawUdpPeer.ExecPayload("echo ran >> extreme.txt");
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        long[] extremes = [long.MinValue, long.MinValue + 1, long.MaxValue, long.MaxValue - 1, -1, 0, now - 31_000, now + 31_000];
        foreach (var timestamp in extremes)
            await peer.SendAsync(RawUdpPeer.Seal(UdpKind.Exec, "ops", s_key, UdpDatagram.NewRequestId(), timestamp, default, payload));
        Assert.Empty(await peer.BarrierAsync("ops", s_key));

        // |now - timestamp| overflowed (and the exception stopped the whole UDP service) when now - timestamp was exactly
        // long.MinValue, i.e. timestamp = now + 2^63 modulo 2^64. Walk a timestamp along that value one millisecond per
        // datagram: the server's clock advances by at most one millisecond per datagram too, so one of them meets it.
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var batch = 0; batch < 40; batch++)
        {
            for (var i = 0; i < 100; i++)
            {
                var timestamp = unchecked(long.MinValue + start + batch * 100 + i);
                await peer.SendAsync(RawUdpPeer.Seal(UdpKind.Exec, "ops", s_key, UdpDatagram.NewRequestId(), timestamp, default, payload));
            }
            Assert.Empty(await peer.BarrierAsync("ops", s_key)); // no answer to any of them, and the server still answers
            if (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() < start + batch * 100 + 100)
                break; // the walk has overtaken the clock: the critical millisecond was in this batch or an earlier one
        }

        var result = await ExecAsync(_server, "echo still serving");
        Assert.Equal("still serving\n", Encoding.UTF8.GetString(result.Stdout));
        Assert.False(File.Exists(Path.Combine(_server.Root, "ops", "extreme.txt")));
        Assert.DoesNotContain(_server.Logs.Lines, l => l.EventId.Id == 5003); // dropped by the checks, not by an exception
    }

    [Fact]
    public async Task A_run_that_throws_is_answered_and_swept_and_the_server_goes_on()
    {
        // Short windows so that the sweep comes within the test; the sweep runs on the server's own timer.
        await using var server = await StartAsync(o => o with { UdpReplayWindow = TimeSpan.FromSeconds(2), UdpResultRetention = TimeSpan.FromSeconds(1) });
        var home = Path.Combine(server.Root, "ops");
        File.CreateSymbolicLink(Path.Combine(home, "loop"), "loop"); // resolving the working directory throws (ELOOP)

        var loop = await Assert.ThrowsAsync<FerryRemoteException>(() => server.UdpExecAsync(Ops,
            new ExecMessage { Shell = "echo never", WorkingDirectory = "loop" }));
        Assert.Equal(FerryErrorCode.ExecFailed, loop.Code);
        // A NUL inside a shell line cannot be passed to a process: the start throws.
        var nul = await Assert.ThrowsAsync<FerryRemoteException>(() => ExecAsync(server, "echo a\0b"));
        Assert.Equal(FerryErrorCode.ExecFailed, nul.Code);
        Assert.Contains(server.Logs.Lines, l => l.EventId.Id == 5004);

        Assert.Equal("fine\n", Encoding.UTF8.GetString((await ExecAsync(server, "echo fine")).Stdout));
        // Failed requests leave the table like any other (before, a run that threw stayed "running" for ever).
        await HostTests.WaitUntilAsync(() => server.UdpServer.RequestCount == 0);
    }

    [Fact]
    public async Task Results_over_the_budget_are_evicted_or_refused_with_a_clear_error()
    {
        const int perUser = 64 * 1024;
        const int global = 72 * 1024;
        await using var server = await StartAsync(o => o with { MaxUdpResultBytesPerUser = perUser, MaxUdpResultBytes = global });
        using var peer = new RawUdpPeer(server.UdpEndPoint!);

        // Two results of 40 KiB for one user, neither fetched to the end: the newer evicts the older.
        var first = UdpDatagram.NewRequestId();
        var firstResult = await peer.RunWithoutDoneAsync("ops", s_key, first, RawUdpPeer.ExecPayload("head -c 40000 /dev/zero"));
        Assert.Equal(40000, firstResult.Stdout.Length);
        Assert.InRange(server.UdpServer.KeptResultBytes, 40000, 41000);
        var second = UdpDatagram.NewRequestId();
        await peer.RunWithoutDoneAsync("ops", s_key, second, RawUdpPeer.ExecPayload("head -c 40000 /dev/zero"));
        Assert.InRange(server.UdpServer.KeptResultBytes, 40000, 41000);
        var evicted = await Assert.ThrowsAsync<FerryRemoteException>(() => peer.RunWithoutDoneAsync("ops", s_key, first, RawUdpPeer.ExecPayload("head -c 40000 /dev/zero")));
        Assert.Equal(FerryErrorCode.ResultBudgetExceeded, evicted.Code);
        Assert.Contains("dropped to make room", evicted.Message);

        // Another user's result does not fit the global budget next to it: refused, never evicting the first user's.
        var refused = await Assert.ThrowsAsync<FerryRemoteException>(() => ExecAsync(server, "head -c 40000 /dev/zero", new ClientCredentials("dev", s_otherKey)));
        Assert.Equal(FerryErrorCode.ResultBudgetExceeded, refused.Code);
        Assert.Contains($"may take {global} bytes", refused.Message);
        Assert.InRange(server.UdpServer.KeptResultBytes, 40000, 41000);

        // Output larger than the per-user budget is cut to fit, with the usual marker.
        await using var roomy = await StartAsync(o => o with { MaxUdpResultBytesPerUser = perUser });
        var big = await ExecAsync(roomy, "head -c 200000 /dev/zero");
        Assert.True(big.Truncated);
        Assert.True(big.Stdout.Length < perUser);
        Assert.Contains("output cut after", Encoding.UTF8.GetString(big.Stderr));
    }

    [Fact]
    public async Task A_replayed_exec_from_another_address_gets_at_most_three_times_its_size_and_runs_nothing()
    {
        await using var observer = new LossyUdpRelay(_server.UdpEndPoint!, dropRate: 0, seed: 1);
        var result = await UdpExecClient.ExecAsync(new ServerAddress("127.0.0.1", observer.Port), Ops,
            new ExecMessage { Shell = "echo run >> amplify.txt; head -c 100000 /dev/zero" }, cancellationToken: TestTimeouts.Token());
        Assert.Equal(100000, result.Stdout.Length);

        // Every datagram the client sent (exec without and with its token, done), replayed from another address.
        using var attacker = new RawUdpPeer(_server.UdpEndPoint!);
        foreach (var datagram in observer.FromClient)
            await attacker.SendAsync(datagram);
        var answers = await attacker.BarrierAsync("ops", s_key);
        Assert.True(attacker.BytesReceived <= 3 * attacker.BytesSent, $"sent {attacker.BytesSent} bytes, got {attacker.BytesReceived} back");
        Assert.All(answers, a => Assert.Equal(UdpKind.Retry, Open(a).Kind)); // never accepted, a chunk or an error
        Assert.Equal("run\n", await File.ReadAllTextAsync(Path.Combine(_server.Root, "ops", "amplify.txt")));
    }

    [Fact]
    public async Task A_resend_from_another_address_gets_at_most_three_times_its_size()
    {
        using var owner = new RawUdpPeer(_server.UdpEndPoint!);
        var id = UdpDatagram.NewRequestId();
        await owner.RunWithoutDoneAsync("ops", s_key, id, RawUdpPeer.ExecPayload("head -c 60000 /dev/zero"));
        var token = await owner.ProveAddressAsync("ops", s_key, id, []); // the owner's current token (same address, same boot)
        var bitmap = Enumerable.Repeat((byte)0xFF, 7).ToArray(); // all of the result's 51 chunks (small enough for any socket buffer)
        var resend = RawUdpPeer.Seal(UdpKind.Resend, "ops", s_key, id, owner.NextTimestamp(), token, bitmap);

        using var attacker = new RawUdpPeer(_server.UdpEndPoint!);
        await attacker.SendAsync(resend);
        await attacker.BarrierAsync("ops", s_key);
        Assert.True(attacker.BytesReceived <= 3 * attacker.BytesSent, $"sent {attacker.BytesSent} bytes, got {attacker.BytesReceived} back");

        // The same datagram from the address that proved it is answered in full: the binding is what stopped it above.
        var before = owner.BytesReceived;
        await owner.SendAsync(resend);
        var (_, chunks) = await owner.ReceiveUntilAsync(s_key, await BarrierIdAsync(owner), UdpKind.Retry);
        Assert.True(owner.BytesReceived - before > 30 * resend.Length, $"the owner got only {owner.BytesReceived - before} bytes");
        Assert.True(chunks.Count >= 50);
    }

    /// <summary>Sends a barrier request on <paramref name="peer"/> and returns its id (the caller waits for its retry).</summary>
    private static async Task<ulong> BarrierIdAsync(RawUdpPeer peer)
    {
        var id = UdpDatagram.NewRequestId();
        await peer.SendAsync(RawUdpPeer.Seal(UdpKind.Exec, "ops", s_key, id, peer.NextTimestamp(), default, RawUdpPeer.ExecPayload("true")));
        return id;
    }

    [Fact]
    public async Task Commands_and_output_are_not_plain_text_on_the_wire_and_tampering_is_rejected()
    {
        await using var observer = new LossyUdpRelay(_server.UdpEndPoint!, dropRate: 0, seed: 1);
        var result = await UdpExecClient.ExecAsync(new ServerAddress("127.0.0.1", observer.Port), Ops,
            new ExecMessage { Shell = "printf 'visible-%s\\n' wire-secret-7f3a >> secret.txt; cat secret.txt" }, cancellationToken: TestTimeouts.Token());
        Assert.Equal("visible-wire-secret-7f3a\n", Encoding.UTF8.GetString(result.Stdout));

        var wire = observer.FromClient.Concat(observer.FromServer).ToList();
        Assert.NotEmpty(observer.FromServer);
        foreach (var datagram in wire)
        {
            var text = Encoding.Latin1.GetString(datagram);
            Assert.DoesNotContain("wire-secret", text);
            Assert.DoesNotContain("printf", text);
            Assert.DoesNotContain("visible-", text);
            Assert.DoesNotContain("secret.txt", text);
        }

        // Any bit changed anywhere after the user name (id, timestamp, token, nonce, ciphertext, tag): no answer, nothing runs.
        var exec = observer.FromClient.Last(d => d[4] == (byte)UdpKind.Exec);
        using var tamperer = new RawUdpPeer(_server.UdpEndPoint!);
        var userEnd = 6 + "ops".Length;
        foreach (var offset in new[] { 4, userEnd, userEnd + 8, userEnd + 16, userEnd + 24, userEnd + 40, userEnd + 52, exec.Length - 17, exec.Length - 1 })
        {
            var tampered = (byte[])exec.Clone();
            tampered[offset] ^= 0x01;
            await tamperer.SendAsync(tampered);
        }
        Assert.Empty(await tamperer.BarrierAsync("ops", s_key));
        Assert.Equal("visible-wire-secret-7f3a\n", await File.ReadAllTextAsync(Path.Combine(_server.Root, "ops", "secret.txt")));
    }

    [Fact]
    public async Task A_request_replayed_after_a_restart_does_not_run_again()
    {
        using var root = new TempDirectory("ferry-udp-restart");
        var state = root.Path + "-state";
        Directory.CreateDirectory(Path.Combine(root.Path, "ops"));
        var captured = new List<byte[]>();
        await using (var first = await StartAsync(o => o with { Root = root.Path, StateDirectory = state }))
        {
            await using var observer = new LossyUdpRelay(first.UdpEndPoint!, dropRate: 0, seed: 1);
            await UdpExecClient.ExecAsync(new ServerAddress("127.0.0.1", observer.Port), Ops,
                new ExecMessage { Shell = "echo run >> restart.txt" }, cancellationToken: TestTimeouts.Token());
            captured.AddRange(observer.FromClient);
        }
        Assert.Equal("run\n", await File.ReadAllTextAsync(Path.Combine(root.Path, "ops", "restart.txt")));

        // A new server on the same root and state folder; the captured datagrams are still inside the replay window.
        await using var second = await StartAsync(o => o with { Root = root.Path, StateDirectory = state });
        using var attacker = new RawUdpPeer(second.UdpEndPoint!);
        foreach (var datagram in captured)
            await attacker.SendAsync(datagram);
        var answers = await attacker.BarrierAsync("ops", s_key);
        Assert.All(answers, a => Assert.Equal(UdpKind.Retry, Open(a).Kind));
        // The new server works, and the file was appended to once.
        await second.UdpExecAsync(Ops, new ExecMessage { Shell = "echo after >> restart.txt" });
        Assert.Equal("run\nafter\n", await File.ReadAllTextAsync(Path.Combine(root.Path, "ops", "restart.txt")));
    }

    private static UdpDatagram Open(byte[] datagram) =>
        UdpDatagram.TryDecode(datagram, s_key, UdpDirection.ServerToClient, out var d) ? d : throw new Xunit.Sdk.XunitException("an answer that does not open");
}
