using System.Net;
using System.Net.Sockets;
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
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>UDP remote execution (docs/protocol.md §7): authenticated datagrams, chunked results, retransmission, at most once.</summary>
public class UdpExecTests : IAsyncLifetime
{
    private static readonly byte[] s_key = Handshake.NewKey();
    private static readonly byte[] s_noExecKey = Handshake.NewKey();
    private TestServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await UdpTestServer.StartAsync([UdpTestServer.User("ops", s_key), UdpTestServer.User("viewer", s_noExecKey, Permissions.Read)]);

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static ClientCredentials Ops => new("ops", s_key);

    [Fact]
    public async Task A_command_runs_and_its_output_and_exit_code_come_back()
    {
        var result = await _server.UdpExecAsync(Ops, new ExecMessage { Shell = "echo 中文; echo oops >&2; exit 3" });
        Assert.Equal("中文\n", Encoding.UTF8.GetString(result.Stdout));
        Assert.Equal("oops\n", Encoding.UTF8.GetString(result.Stderr));
        Assert.Equal(3, result.Code);
    }

    [Fact]
    public async Task One_mebibyte_survives_20_percent_loss_and_reordering_and_runs_once()
    {
        var data = new byte[1024 * 1024];
        new Random(11).NextBytes(data);
        await File.WriteAllBytesAsync(Path.Combine(_server.Root, "ops", "big.bin"), data);
        await using var relay = new LossyUdpRelay(_server.UdpEndPoint!, dropRate: 0.2, seed: 7);

        var result = await UdpExecClient.ExecAsync(new ServerAddress("127.0.0.1", relay.Port), Ops,
            new ExecMessage { Shell = "echo run >> runs.txt; cat big.bin" },
            new UdpExecOptions { InitialRetryDelay = TimeSpan.FromMilliseconds(100), RetryBudget = 30 }, TestTimeouts.Token());

        Assert.Equal(data, result.Stdout);
        Assert.Equal(0, result.Code);
        Assert.True(relay.Dropped > 100, $"the relay dropped only {relay.Dropped} datagrams");
        Assert.True(relay.Reordered > 10, $"the relay reordered only {relay.Reordered} datagrams");
        // At most once, however many times the request or its acknowledgement was lost.
        Assert.Equal("run\n", await File.ReadAllTextAsync(Path.Combine(_server.Root, "ops", "runs.txt")));
    }

    [Fact]
    public async Task Replayed_stale_and_forged_datagrams_do_not_run_anything()
    {
        using var peer = new RawUdpPeer(_server.UdpEndPoint!);
        var id = UdpDatagram.NewRequestId();
        var payload = RawUdpPeer.ExecPayload("echo run >> replay.txt");
        var token = await peer.ProveAddressAsync("ops", s_key, id, payload);
        var request = RawUdpPeer.Seal(UdpKind.Exec, "ops", s_key, id, peer.NextTimestamp(), token, payload);

        // The same datagram three times (a replay on the path, from the proved address itself): one run, one answer.
        for (var i = 0; i < 3; i++)
            await peer.SendAsync(request);
        await HostTests.WaitUntilAsync(() => File.Exists(Path.Combine(_server.Root, "ops", "replay.txt")));
        var answers = (await peer.BarrierAsync("ops", s_key)).Count(b => IsAnswerTo(b, id));
        Assert.Equal("run\n", await File.ReadAllTextAsync(Path.Combine(_server.Root, "ops", "replay.txt")));

        // Stale (a minute old), forged (wrong key) and tampered requests get no answer and run nothing.
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var staleId = UdpDatagram.NewRequestId();
        var stale = RawUdpPeer.Seal(UdpKind.Exec, "ops", s_key, staleId, now - 60_000, await peer.ProveAddressAsync("ops", s_key, staleId, payload),
            RawUdpPeer.ExecPayload("echo stale > stale.txt"));
        var forged = RawUdpPeer.Seal(UdpKind.Exec, "ops", Handshake.NewKey(), UdpDatagram.NewRequestId(), now, default, RawUdpPeer.ExecPayload("echo forged > forged.txt"));
        var tampered = RawUdpPeer.Seal(UdpKind.Exec, "ops", s_key, UdpDatagram.NewRequestId(), peer.NextTimestamp(), default, RawUdpPeer.ExecPayload("echo t > tampered.txt"));
        tampered[^40] ^= 1;
        foreach (var datagram in new[] { stale, forged, tampered })
            await peer.SendAsync(datagram);
        // Only a late chunk of the first request may still arrive; nothing answers the three.
        Assert.All(await peer.BarrierAsync("ops", s_key), b => Assert.True(IsAnswerTo(b, id)));
        Assert.InRange(answers, 1, 2); // accepted, and the result's chunk if it was ready (never once per copy)
        Assert.False(File.Exists(Path.Combine(_server.Root, "ops", "stale.txt")));
        Assert.False(File.Exists(Path.Combine(_server.Root, "ops", "forged.txt")));
        Assert.False(File.Exists(Path.Combine(_server.Root, "ops", "tampered.txt")));
    }

    private static bool IsAnswerTo(byte[] datagram, ulong id) =>
        UdpDatagram.TryDecode(datagram, s_key, UdpDirection.ServerToClient, out var d) && d.RequestId == id;

    [Fact]
    public async Task Ferry_exec_udp_prints_the_output_and_exits_with_the_remote_code()
    {
        var env = new Dictionary<string, string> { ["FERRY_USER"] = "ops", ["FERRY_KEY"] = Convert.ToBase64String(s_key), ["FERRY_CONFIG_DIR"] = _server.Root + "-client" };
        await using var p = FerryProcess.Start(["exec", "--udp", "--server", $"127.0.0.1:{_server.UdpEndPoint!.Port}", "--", "echo 中文; exit 3"], environment: env);
        await p.WaitForExitAsync();
        Assert.Equal(3, p.ExitCode);
        Assert.Equal("中文", p.Stdout.Trim());
    }

    [Fact]
    public async Task Exec_without_permission_is_refused()
    {
        var ex = await Assert.ThrowsAsync<FerryRemoteException>(() =>
            _server.UdpExecAsync(new ClientCredentials("viewer", s_noExecKey), new ExecMessage { Shell = "true" }));
        Assert.Equal(FerryErrorCode.PermissionDenied, ex.Code);
    }

    [Fact]
    public async Task A_malformed_request_is_refused_before_it_runs_as_over_tcp()
    {
        // Both argv and shell: field_invalid, as the TCP exec frame gets it (before, UDP accepted it and answered with
        // a result of exit code 127).
        var both = await Assert.ThrowsAsync<FerryRemoteException>(() =>
            _server.UdpExecAsync(Ops, new ExecMessage { Shell = "echo run >> malformed.txt", Argv = ["echo", "run"] }));
        Assert.Equal(FerryErrorCode.FieldInvalid, both.Code);
        Assert.False(File.Exists(Path.Combine(_server.Root, "ops", "malformed.txt")));
    }

    [Fact]
    public async Task An_exhausted_retry_budget_is_a_clear_error()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0)); // bound, never answers
        var port = ((IPEndPoint)silent.LocalEndPoint!).Port;
        var ex = await Assert.ThrowsAsync<TimeoutException>(() => UdpExecClient.ExecAsync(new ServerAddress("127.0.0.1", port), Ops,
            new ExecMessage { Shell = "true" }, new UdpExecOptions { InitialRetryDelay = TimeSpan.FromMilliseconds(20), RetryBudget = 3 }, TestTimeouts.Token()));
        Assert.Contains("after 3 retransmissions", ex.Message);
    }
}

/// <summary>A UDP relay between one client and the server that drops a share of datagrams and delays others so they arrive out of order.</summary>
public sealed class LossyUdpRelay : IAsyncDisposable
{
    private readonly Socket _front = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly Socket _back = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Random _random;
    private readonly double _dropRate;
    private readonly Task _forward;
    private readonly Task _backward;
    private EndPoint? _client;
    private int _dropped;
    private int _reordered;

    /// <summary>Every datagram the client sent through the relay, as it was on the wire.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<byte[]> FromClient { get; } = new();

    /// <summary>Every datagram the server sent through the relay, as it was on the wire.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<byte[]> FromServer { get; } = new();

    public LossyUdpRelay(IPEndPoint server, double dropRate, int seed)
    {
        _dropRate = dropRate;
        _random = new Random(seed);
        _front.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _back.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _front.ReceiveBufferSize = _back.ReceiveBufferSize = 8 * 1024 * 1024;
        _forward = PumpAsync(_front, () => server, remember: true);
        _backward = PumpAsync(_back, () => _client, remember: false);
    }

    public int Port => ((IPEndPoint)_front.LocalEndPoint!).Port;
    public int Dropped => _dropped;
    public int Reordered => _reordered;

    private async Task PumpAsync(Socket from, Func<EndPoint?> target, bool remember)
    {
        var buffer = new byte[65536];
        var output = remember ? _back : _front;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var r = await from.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                if (remember)
                    _client = r.RemoteEndPoint;
                var copy = buffer.AsSpan(0, r.ReceivedBytes).ToArray();
                (remember ? FromClient : FromServer).Enqueue(copy);
                double roll;
                int delay;
                lock (_random)
                {
                    roll = _random.NextDouble();
                    delay = _random.Next(100) < 10 ? _random.Next(1, 20) : 0;
                }
                if (roll < _dropRate)
                {
                    Interlocked.Increment(ref _dropped);
                    continue;
                }
                var to = target();
                if (to is null)
                    continue;
                if (delay == 0)
                {
                    await output.SendToAsync(copy, SocketFlags.None, to);
                    continue;
                }
                Interlocked.Increment(ref _reordered);
                _ = Task.Delay(delay).ContinueWith(_ => output.SendToAsync(copy, SocketFlags.None, to), TaskScheduler.Default);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _front.Dispose();
        _back.Dispose();
        await Task.WhenAll(_forward, _backward);
        _stop.Dispose();
    }
}
