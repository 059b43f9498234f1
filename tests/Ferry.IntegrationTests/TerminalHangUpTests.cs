using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Ferry.Testing;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary>
/// A stopping server hangs up commands on terminals (docs/protocol.md §6.4, docs/deploy.md): SIGHUP to the terminal's
/// process groups, SIGKILL two seconds later to what ignored it, and the stop does not wait out its grace period for them.
/// </summary>
public class TerminalHangUpTests
{
    /// <summary>Far longer than the stop may take: a server that waited for its terminals would be caught.</summary>
    private static readonly TimeSpan LongGrace = TimeSpan.FromSeconds(60);

    /// <summary>The hang-up grace (2 s) and the teardown, with room for a loaded machine.</summary>
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(20);

    private static object Tty() => new { term = "xterm", cols = 80, rows = 24, xpixel = 0, ypixel = 0 };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Stopping_the_server_hangs_up_its_terminals_and_kills_what_ignores_it(bool unconfined)
    {
        var server = await TestServer.StartAsync(o => o with { AllowExec = true, ExecUnconfined = unconfined, ShutdownGrace = LongGrace });
        var stopped = false;
        try
        {
            await using var plain = await HelloAsync(server);
            await using var trapping = await HelloAsync(server);
            var (plainExit, plainPids) = await StartAsync(plain, marker => $"sleep {marker}");
            var (trappingExit, trappingPids) = await StartAsync(trapping, marker => $"trap '' HUP; sleep {marker}; echo survived");

            var watch = Stopwatch.StartNew();
            await server.DisposeAsync();
            stopped = true;
            Assert.True(watch.Elapsed < StopDeadline, $"the stop took {watch.Elapsed}");

            // The plain command died of the hang-up itself; the one that ignored it, of the kill that followed.
            Assert.Equal("HUP", (await plainExit).GetProperty("signal").GetString());
            Assert.Equal("KILL", (await trappingExit).GetProperty("signal").GetString());
            await WaitUntilGoneAsync([.. plainPids, .. trappingPids]);
            // Both were hung up; only the one that ignored it was killed.
            Assert.Equal(2, server.Logs.Lines.Count(l => l.EventId.Id == Ferry.Server.Logging.LogEvents.ExecTerminalHungUp));
            Assert.Single(server.Logs.Lines, l => l.EventId.Id == Ferry.Server.Logging.LogEvents.ExecTerminalKilledAfterHangUp);
        }
        finally
        {
            if (!stopped)
                await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_served_process_stopped_by_sigterm_hangs_up_its_terminals_and_exits()
    {
        using var root = new TempDirectory("ferry-root");
        using var state = new TempDirectory("ferry-state");
        await using var server = await ServerProcess.StartAsync(root.Path, state.Path, "--allow-exec", "--shutdown-grace", "60");
        await using var plain = await HelloAtAsync(server.EndPoint);
        await using var trapping = await HelloAtAsync(server.EndPoint);
        var (plainExit, plainPids) = await StartAsync(plain, marker => $"sleep {marker}");
        var (trappingExit, trappingPids) = await StartAsync(trapping, marker => $"trap '' HUP; sleep {marker}; echo survived");

        var watch = Stopwatch.StartNew();
        server.Process.Signal("TERM");
        await server.Process.WaitForExitAsync().WaitAsync(StopDeadline);
        Assert.Equal(0, server.Process.ExitCode);
        Assert.True(watch.Elapsed < StopDeadline, $"the stop took {watch.Elapsed}");

        Assert.Equal("HUP", (await plainExit).GetProperty("signal").GetString());
        Assert.Equal("KILL", (await trappingExit).GetProperty("signal").GetString());
        await WaitUntilGoneAsync([.. plainPids, .. trappingPids]);
    }

    /// <summary>
    /// Starts <paramref name="shell"/> (given a unique marker) on a terminal, waits until its sleep runs, and returns a
    /// task that answers the exit as a client would (exec_done) and yields it, with the pids of every process of it.
    /// </summary>
    private static async Task<(Task<JsonElement> Exit, List<int> Pids)> StartAsync(RawConnection raw, Func<string, string> shell)
    {
        var marker = $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000)}";
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, tty = Tty(), shell = shell(marker) }));
        Assert.Equal("exec_started", (await raw.ReadAsync())!.Command);
        await HostTests.WaitUntilAsync(() => Processes(marker).Any(p => p.Cmdline == $"sleep {marker}"));
        return (ReadExitAsync(raw), Processes(marker).Select(p => p.Pid).ToList());
    }

    private static async Task<RawConnection> HelloAtAsync(System.Net.IPEndPoint endPoint)
    {
        var raw = await RawConnection.ConnectAsync(endPoint);
        await raw.SendHelloAsync();
        Assert.Equal("hello", (await raw.ReadAsync())!.Command);
        return raw;
    }

    private static async Task<JsonElement> ReadExitAsync(RawConnection raw)
    {
        while (true)
        {
            var frame = await raw.ReadAsync() ?? throw new InvalidOperationException("closed before exit");
            if (frame.Command == "exit")
            {
                await raw.SendAsync(Json(new { cmd = "exec_done", id = 1 }));
                return JsonDocument.Parse(frame.Json).RootElement.Clone();
            }
            Assert.True(frame.Command == "stdout", frame.Json);
        }
    }

    /// <summary>Every process whose command line holds <paramref name="marker"/>: the command, its shell, and in a sandbox the launchers.</summary>
    private static List<(int Pid, string Cmdline)> Processes(string marker)
    {
        var found = new List<(int, string)>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                continue;
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').TrimEnd();
                if (cmdline.Contains(marker, StringComparison.Ordinal))
                    found.Add((pid, cmdline));
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return found;
    }

    private static async Task WaitUntilGoneAsync(List<int> pids)
    {
        var watch = Stopwatch.StartNew();
        while (pids.Any(IsAlive) && watch.Elapsed < TestTimeouts.Default)
            await Task.Delay(50);
        Assert.DoesNotContain(pids, IsAlive);
    }

    /// <summary>Whether <paramref name="pid"/> exists and is not a zombie waiting to be reaped.</summary>
    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault() != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }
}
