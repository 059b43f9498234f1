using System.Diagnostics;
using System.Text;
using Ferry.Client;
using Ferry.Client.Exec;
using Ferry.Client.Security;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// TCP exec and UDP exec run commands by one set of rules (docs/protocol.md §6.2, §7.2): each case runs the same request
/// over both transports against one server and expects the same exit code, flags, output and errors.
/// </summary>
public class ExecTransportParityTests : IAsyncLifetime
{
    private const int OutputCap = 1000;
    private static readonly byte[] s_key = Handshake.NewKey();
    private static readonly ClientCredentials s_ops = new("ops", s_key);
    private TestServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await UdpTestServer.StartAsync([UdpTestServer.User("ops", s_key)],
            o => o with { MaxExecOutputBytes = OutputCap, MaxUdpOutputBytes = OutputCap, ExecTimeout = TimeSpan.FromMinutes(1) });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    /// <summary>What a client learns of a command, whichever way it went.</summary>
    private sealed record Seen(int Code, bool TimedOut, bool Truncated, string Stdout, string Stderr, TimeSpan Elapsed);

    [Fact]
    public async Task A_failing_command_reports_the_same_exit_code_and_keeps_stdout_and_stderr_apart()
    {
        var (tcp, udp) = await RunBothAsync(new ExecMessage { Shell = "printf out1; printf err1 >&2; printf out2; printf err2 >&2; exit 3" });
        foreach (var seen in new[] { tcp, udp })
        {
            Assert.Equal(3, seen.Code);
            Assert.Equal("out1out2", seen.Stdout);
            Assert.Equal("err1err2", seen.Stderr);
            Assert.False(seen.TimedOut || seen.Truncated);
        }
    }

    [Fact]
    public async Task A_command_killed_by_a_signal_reports_128_plus_the_signal_over_both()
    {
        var (tcp, udp) = await RunBothAsync(new ExecMessage { Shell = "echo before; kill -KILL $$" });
        Assert.Equal(tcp with { Elapsed = default }, udp with { Elapsed = default });
        Assert.Equal(137, tcp.Code);
        Assert.Equal("before\n", tcp.Stdout);
    }

    [Fact]
    public async Task A_command_killed_at_its_timeout_is_reported_alike()
    {
        var marker = Marker();
        var (tcp, udp) = await RunBothAsync(new ExecMessage { Shell = $"echo before; sleep {marker}; echo never", TimeoutSeconds = 1 });
        foreach (var seen in new[] { tcp, udp })
        {
            Assert.Equal(124, seen.Code);
            Assert.True(seen.TimedOut);
            Assert.False(seen.Truncated);
            Assert.Equal("before\n", seen.Stdout);
            Assert.Equal("", seen.Stderr);
            Assert.InRange(seen.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(20));
        }
        await ExecProtocolTests.AssertNoProcessWithAsync(marker);
    }

    [Fact]
    public async Task Output_over_the_cap_is_cut_at_the_same_byte_with_the_same_marker_and_flag()
    {
        var (tcp, udp) = await RunBothAsync(new ExecMessage { Shell = "head -c 300000 /dev/zero | tr '\\0' x; echo late >&2" });
        Assert.Equal(tcp with { Elapsed = default }, udp with { Elapsed = default });
        Assert.True(tcp.Truncated);
        Assert.Equal(0, tcp.Code);
        Assert.Equal(new string('x', OutputCap), tcp.Stdout);
        Assert.Equal($"\n[ferry: output cut after {OutputCap} bytes]\n", tcp.Stderr);
    }

    [Fact]
    public async Task A_background_descendant_dies_with_its_command_which_completes_promptly()
    {
        var markers = new[] { Marker(), Marker() };
        var seen = new List<Seen>();
        foreach (var (marker, overUdp) in new[] { (markers[0], false), (markers[1], true) })
        {
            // The descendant keeps stdout and stderr open: only the kill of the whole group lets the output end.
            var message = new ExecMessage { Shell = $"sleep {marker} & echo started" };
            seen.Add(overUdp ? await RunOverUdpAsync(message) : await RunOverTcpAsync(message));
            await ExecProtocolTests.AssertNoProcessWithAsync(marker);
        }
        foreach (var run in seen)
        {
            Assert.Equal(0, run.Code);
            Assert.Equal("started\n", run.Stdout);
            Assert.False(run.TimedOut);
            // Far below the descendant's own life (hundreds of thousands of seconds) and below the drain grace (2 s) plus slack.
            Assert.True(run.Elapsed < TimeSpan.FromSeconds(10), $"took {run.Elapsed}");
        }
    }

    [Fact]
    public async Task A_descendant_that_escaped_the_group_holds_the_result_back_only_for_the_drain_grace_and_the_output_is_kept()
    {
        // Only unconfined can a descendant leave the command's group (setsid) and survive it; in the sandbox it dies with
        // the PID namespace. It keeps stdout open, so the end of the output never comes: both transports give up waiting
        // after the drain grace and report what was read.
        await using var server = await UdpTestServer.StartAsync([UdpTestServer.User("ops", s_key)], o => o with { ExecUnconfined = true });
        var marker = Marker();
        try
        {
            foreach (var overUdp in new[] { false, true })
            {
                // The command ends only once the descendant is in a session of its own, so the group kill cannot reach it.
                var escaped = overUdp ? "udp.pid" : "tcp.pid";
                var message = new ExecMessage { Shell = $"setsid sh -c 'echo $$ > {escaped}; exec sleep {marker}' & while [ ! -s {escaped} ]; do sleep 0.01; done; echo started" };
                var run = overUdp ? await RunOverUdpAsync(message, server) : await RunOverTcpAsync(message, server);
                Assert.Equal(0, run.Code);
                Assert.Equal("started\n", run.Stdout);
                Assert.InRange(run.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(15));
            }
        }
        finally
        {
            foreach (var pid in ExecProtocolTests.ProcessesWith(marker))
                KillQuietly(pid);
        }
    }

    [Fact]
    public async Task A_program_that_cannot_be_started_is_exec_failed_over_both()
    {
        var message = new ExecMessage { Argv = ["/nonexistent/program"] };
        var tcp = await Assert.ThrowsAsync<FerryRemoteException>(() => RunOverTcpAsync(message));
        var udp = await Assert.ThrowsAsync<FerryRemoteException>(() => RunOverUdpAsync(message));
        Assert.Equal(FerryErrorCode.ExecFailed, tcp.Code);
        Assert.Equal(FerryErrorCode.ExecFailed, udp.Code);
        Assert.Equal(tcp.Message, udp.Message);
    }

    [Fact]
    public async Task A_missing_working_directory_is_not_found_over_both()
    {
        var message = new ExecMessage { Shell = "touch ran", WorkingDirectory = "no/such/folder" };
        var tcp = await Assert.ThrowsAsync<FerryRemoteException>(() => RunOverTcpAsync(message));
        var udp = await Assert.ThrowsAsync<FerryRemoteException>(() => RunOverUdpAsync(message));
        Assert.Equal(FerryErrorCode.NotFound, tcp.Code);
        Assert.Equal(FerryErrorCode.NotFound, udp.Code);
        Assert.False(File.Exists(Path.Combine(_server.Root, "ops", "ran")));
    }

    private async Task<(Seen Tcp, Seen Udp)> RunBothAsync(ExecMessage message) =>
        (await RunOverTcpAsync(message), await RunOverUdpAsync(message));

    private async Task<Seen> RunOverTcpAsync(ExecMessage message, TestServer? server = null)
    {
        await using var client = await FerryClient.ConnectAsync((server ?? _server).Address, new FerryClientOptions { UseTls = false, Credentials = s_ops }, TestTimeouts.Token());
        var request = new ExecRequest
        {
            Argv = message.Argv,
            Shell = message.Shell,
            WorkingDirectory = message.WorkingDirectory,
            Timeout = message.TimeoutSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
        };
        using var stdout = new MemoryStream();
        using var stderr = new MemoryStream();
        var clock = Stopwatch.StartNew();
        var result = await client.ExecAsync(request, null, stdout, stderr, new ExecOptions { Raw = true }, TestTimeouts.Token());
        return new Seen(result.ExitCode, result.TimedOut, result.Truncated, Encoding.UTF8.GetString(stdout.ToArray()), Encoding.UTF8.GetString(stderr.ToArray()),
            clock.Elapsed);
    }

    private async Task<Seen> RunOverUdpAsync(ExecMessage message, TestServer? server = null)
    {
        var clock = Stopwatch.StartNew();
        var result = await (server ?? _server).UdpExecAsync(s_ops, message);
        return new Seen(result.Code, result.TimedOut, result.Truncated, Encoding.UTF8.GetString(result.Stdout), Encoding.UTF8.GetString(result.Stderr), clock.Elapsed);
    }

    private static void KillQuietly(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    /// <summary>A sleep length no other process has, to find (and miss) exactly this test's processes.</summary>
    private static string Marker() => $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000)}";
}
