using System.Diagnostics;
using System.Text;
using Ferry.Client;
using Ferry.Protocol.Errors;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

public class HostTests
{
    [Fact]
    public async Task Connections_over_the_limit_get_server_busy()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxConnections = 2 });
        await using var first = await server.ConnectAsync();
        await using var second = await server.ConnectAsync();
        // Established (on a server without logins: a first command completed), so neither is shed for the newcomer.
        await first.EchoAsync("1"u8.ToArray(), TestTimeouts.Token());
        await second.EchoAsync("2"u8.ToArray(), TestTimeouts.Token());
        var ex = await Assert.ThrowsAsync<FerryRemoteException>(() => server.ConnectAsync());
        Assert.Equal(FerryErrorCode.ServerBusy, ex.Code);

        // Existing connections keep working, and a slot freed is a slot reusable.
        Assert.Equal("A", Encoding.UTF8.GetString(await first.EchoAsync("a"u8.ToArray(), TestTimeouts.Token())));
        await second.DisposeAsync();
        await WaitUntilAsync(() => server.Server.ConnectionCount < 2);
        await using var third = await server.ConnectAsync();
        Assert.Equal("B", Encoding.UTF8.GetString(await third.EchoAsync("b"u8.ToArray(), TestTimeouts.Token())));
    }

    [Fact]
    public async Task A_client_turned_away_as_busy_tries_again_within_its_connect_timeout_and_gets_in()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxConnections = 1 });
        var holder = await server.ConnectAsync();
        await holder.EchoAsync("1"u8.ToArray(), TestTimeouts.Token()); // established: it is never shed for a newcomer

        // One attempt only: the refusal is reported as it came.
        var once = await Assert.ThrowsAsync<FerryRemoteException>(() => server.ConnectAsync(new FerryClientOptions { UseTls = false, ConnectAttempts = 1 }));
        Assert.Equal(FerryErrorCode.ServerBusy, once.Code);

        // With retries: the first refusal frees the slot (as a finished transfer elsewhere would), a later attempt gets in.
        var refusals = new List<FerryErrorCode>();
        var options = new FerryClientOptions
        {
            UseTls = false,
            ConnectAttempts = 50,
            ConnectTimeout = TimeSpan.FromSeconds(60),
            OnConnectRetry = (ex, wait) =>
            {
                lock (refusals)
                {
                    refusals.Add(((FerryException)ex).Code);
                    if (refusals.Count == 1)
                        holder.DisposeAsync().AsTask().Wait();
                }
                Assert.InRange(wait, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(1500));
            },
        };
        await using var patient = await server.ConnectAsync(options);
        Assert.Equal("B", Encoding.UTF8.GetString(await patient.EchoAsync("b"u8.ToArray(), TestTimeouts.Token())));
        Assert.NotEmpty(refusals);
        Assert.All(refusals, code => Assert.Equal(FerryErrorCode.ServerBusy, code));
    }

    [Fact]
    public async Task A_client_does_not_retry_what_a_retry_cannot_fix()
    {
        // Nothing listens on the port: refused at once, whatever the number of attempts.
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var retries = 0;
        var options = new FerryClientOptions { UseTls = false, ConnectAttempts = 5, OnConnectRetry = (_, _) => Interlocked.Increment(ref retries) };
        var unreachable = await Assert.ThrowsAsync<FerryException>(() => FerryClient.ConnectAsync(new ServerAddress("127.0.0.1", port), options, TestTimeouts.Token()));
        Assert.Equal(FerryErrorCode.ConnectFailed, unreachable.Code);
        Assert.True(unreachable.IsTransient);
        Assert.IsType<System.Net.Sockets.SocketException>(unreachable.InnerException);

        // A login the server refuses is not retried either.
        await using var server = await TestServer.StartAsync(o => o with { RequireAuthentication = true });
        var refused = await Assert.ThrowsAsync<FerryException>(() => server.ConnectAsync(options));
        Assert.Equal(FerryErrorCode.AuthenticationRequired, refused.Code);
        Assert.Equal(0, retries);
        Assert.Throws<ArgumentOutOfRangeException>(() => FerryClient.ConnectAsync(server.Address, options with { ConnectAttempts = 0 }).GetAwaiter().GetResult());
    }

    [Fact]
    public async Task Slow_loris_header_is_cut_off_by_the_header_timeout()
    {
        await using var server = await TestServer.StartAsync(o => o with { HeaderTimeout = TimeSpan.FromMilliseconds(500) });
        await using var raw = await server.ConnectRawAsync();
        var frame = FrameBytes.Frame("""{"cmd":"hello","version":1,"agent":"drip"}""");
        var watch = Stopwatch.StartNew();
        // A byte every 100 ms: data keeps arriving, yet the header never completes in time.
        var drip = Task.Run(async () =>
        {
            foreach (var b in frame)
            {
                try { await raw.SendAsync(new[] { b }); } catch { return; }
                await Task.Delay(100);
            }
        });
        Assert.Equal(("header_timeout", true), await raw.ReadErrorAsync());
        // Cut off before the drip could have finished the header (at least 100 ms a byte), however loaded the machine.
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(100 * frame.Length));
        Assert.True(await raw.IsClosedByPeerAsync());
        await drip;
    }

    [Fact]
    public async Task Silent_connection_is_closed_by_the_idle_timeout()
    {
        await using var server = await TestServer.StartAsync(o => o with { IdleTimeout = TimeSpan.FromMilliseconds(300) });
        await using var raw = await server.ConnectRawAsync();
        await raw.SendHelloAsync();
        Assert.Equal("hello", (await raw.ReadAsync())!.Command);
        Assert.Equal(("idle_timeout", true), await raw.ReadErrorAsync());
        Assert.True(await raw.IsClosedByPeerAsync());
    }

    [Fact]
    public async Task Shutdown_lets_work_in_flight_finish_and_closes_idle_connections()
    {
        var server = await TestServer.StartAsync(o => o with { ShutdownGrace = TimeSpan.FromSeconds(10) });
        await using var idle = await server.ConnectRawAsync();
        await idle.SendHelloAsync();
        await idle.ReadAsync();

        await using var busy = await server.ConnectRawAsync();
        await busy.SendHelloAsync();
        await busy.ReadAsync();
        // Half an echo: the command is in flight when the server is told to stop.
        await busy.SendAsync(FrameBytes.Concat(FrameBytes.Frame("""{"cmd":"echo","bodysize":6}"""), "abc"u8.ToArray()));
        await WaitUntilAsync(() => server.Logs.Lines.Count(l => l.EventId.Id == 2005) >= 2);
        await WaitUntilAsync(() => server.Logs.Lines.Any(l => l.EventId.Id == 1300 && l.Message.StartsWith("echo", StringComparison.Ordinal)));

        var stopping = server.DisposeAsync().AsTask();
        Assert.Equal(("server_shutting_down", true), await idle.ReadErrorAsync());

        await busy.SendAsync("def"u8.ToArray());
        var reply = await busy.ReadAsync();
        Assert.Equal("ABCDEF", Encoding.UTF8.GetString(reply!.Body));
        await stopping.WaitAsync(TestTimeouts.Default);

        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => server.ConnectRawAsync());
    }

    [Fact]
    public async Task Shutdown_aborts_what_is_still_running_after_the_grace_period()
    {
        var server = await TestServer.StartAsync(o => o with { ShutdownGrace = TimeSpan.FromMilliseconds(300) });
        await using var busy = await server.ConnectRawAsync();
        await busy.SendHelloAsync();
        await busy.ReadAsync();
        await busy.SendAsync(FrameBytes.Concat(FrameBytes.Frame("""{"cmd":"echo","bodysize":6}"""), "abc"u8.ToArray()));
        await WaitUntilAsync(() => server.Logs.Lines.Any(l => l.EventId.Id == 1300 && l.Message.StartsWith("echo", StringComparison.Ordinal)));

        var watch = Stopwatch.StartNew();
        await server.DisposeAsync();
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"stop took {watch.Elapsed}"); // unaborted, the echo would wait for a body that never comes
        Assert.Contains(server.Logs.Lines, l => l.EventId.Id == 1004);
    }

    [Fact]
    public async Task Insecure_no_auth_mode_accepts_a_client_that_sends_no_hello()
    {
        await using var server = await TestServer.StartAsync(o => o with { InsecureNoAuth = true });
        await using var raw = await server.ConnectRawAsync();
        await raw.SendAsync(FrameBytes.WithBody("echo", "classic"u8));
        Assert.Equal("CLASSIC", Encoding.UTF8.GetString((await raw.ReadAsync())!.Body));
        Assert.Contains(server.Logs.Lines, l => l.EventId.Id == 1002 && l.Level == Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    internal static Task WaitUntilAsync(Func<bool> condition) => Eventually.UntilAsync(condition);
}
