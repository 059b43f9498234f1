using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Ferry.Testing;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary>Remote execution at the frame level (docs/protocol.md §6), with real processes.</summary>
public class ExecProtocolTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await TestServer.StartAsync(o => o with { AllowExec = true, ExecTimeout = TimeSpan.FromMinutes(1) });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    internal sealed record ExecResult(List<(string Stream, byte[] Data)> Output, JsonElement Exit, string Encoding)
    {
        public string Stdout => System.Text.Encoding.UTF8.GetString(Output.Where(o => o.Stream == "stdout").SelectMany(o => o.Data).ToArray());
        public string Stderr => System.Text.Encoding.UTF8.GetString(Output.Where(o => o.Stream == "stderr").SelectMany(o => o.Data).ToArray());
        public int Code => Exit.GetProperty("code").GetInt32();
    }

    /// <summary>Runs one command over <paramref name="raw"/>: exec, optional stdin, then reads to exit and sends exec_done.</summary>
    internal static async Task<ExecResult> ExecAsync(RawConnection raw, object request, byte[]? stdin = null, Func<RawConnection, Task>? whileRunning = null)
    {
        await raw.SendAsync(Json(request));
        var started = await raw.ReadAsync();
        Assert.True(started!.Command == "exec_started", started.Json);
        var encoding = JsonDocument.Parse(started.Json).RootElement.GetProperty("encoding").GetString()!;
        if (stdin is not null)
            await raw.SendAsync(Json(new { cmd = "stdin", id = 1, bodysize = stdin.Length }, stdin));
        await raw.SendAsync(Json(new { cmd = "stdin_end", id = 1 }));
        var running = whileRunning?.Invoke(raw) ?? Task.CompletedTask;
        var output = new List<(string, byte[])>();
        while (true)
        {
            var frame = await raw.ReadAsync() ?? throw new InvalidOperationException("connection closed before exit");
            if (frame.Command == "exit")
            {
                await running;
                await raw.SendAsync(Json(new { cmd = "exec_done", id = 1 }));
                return new ExecResult(output, JsonDocument.Parse(frame.Json).RootElement.Clone(), encoding);
            }
            Assert.True(frame.Command is "stdout" or "stderr", frame.Json);
            output.Add((frame.Command, frame.Body));
        }
    }

    [Fact]
    public async Task Output_streams_separately_in_order_and_the_exit_code_comes_back()
    {
        await using var raw = await HelloAsync(_server);
        // Each line is written only once the one before it has arrived (the command waits for a line of stdin that the
        // test sends on receiving it), so the frames cannot be merged or reordered, however busy the machine.
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, shell = "echo one; read a; echo two >&2; read b; echo 中文; exit 3" }));
        var started = await raw.ReadAsync();
        Assert.True(started!.Command == "exec_started", started.Json);
        var output = new List<(string, byte[])>();
        JsonElement exit;
        while (true)
        {
            var frame = await raw.ReadAsync() ?? throw new InvalidOperationException("connection closed before exit");
            if (frame.Command == "exit")
            {
                exit = JsonDocument.Parse(frame.Json).RootElement.Clone();
                await raw.SendAsync(Json(new { cmd = "exec_done", id = 1 }));
                break;
            }
            Assert.True(frame.Command is "stdout" or "stderr", frame.Json);
            output.Add((frame.Command, frame.Body));
            if (output.Count < 3)
                await raw.SendAsync(Json(new { cmd = "stdin", id = 1, bodysize = 3 }, "go\n"u8.ToArray()));
        }
        var result = new ExecResult(output, exit, JsonDocument.Parse(started.Json).RootElement.GetProperty("encoding").GetString()!);
        Assert.Equal("one\n中文\n", result.Stdout);
        Assert.Equal("two\n", result.Stderr);
        Assert.Equal(3, result.Code);
        Assert.Equal("utf-8", result.Encoding);
        // Produced live, so it arrives as separate frames in the order it was written.
        Assert.Equal(["stdout", "stderr", "stdout"], result.Output.Select(o => o.Stream));

        // The connection is ordinary again afterwards.
        await raw.SendAsync(Json(new { cmd = "ls", path = "" }));
        Assert.Equal("listing", (await raw.ReadAsync())!.Command);
    }

    [Fact]
    public async Task Argv_runs_without_a_shell_and_stdin_is_forwarded()
    {
        await using var raw = await HelloAsync(_server);
        var result = await ExecAsync(raw, new { cmd = "exec", id = 1, argv = new[] { "wc", "-l" } }, Encoding.UTF8.GetBytes("a\nb\nc\n"));
        Assert.Equal("3", result.Stdout.Trim());
        var literal = await ExecAsync(raw, new { cmd = "exec", id = 1, argv = new[] { "echo", "$HOME; rm -rf /" } });
        Assert.Equal("$HOME; rm -rf /\n", literal.Stdout);
    }

    [Fact]
    public async Task The_command_runs_in_the_home_with_a_minimal_environment()
    {
        await using var raw = await HelloAsync(_server);
        Directory.CreateDirectory(Path.Combine(_server.Root, "sub"));
        var result = await ExecAsync(raw, new { cmd = "exec", id = 1, shell = "pwd; env | sort", cwd = "sub" });
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Path.Combine(_server.Root, "sub"), lines[0]);
        var names = lines.Skip(1).Select(l => l.Split('=')[0]).Where(n => n is not ("PWD" or "SHLVL" or "_" or "OLDPWD")).ToList();
        Assert.Equal(["FERRY", "HOME", "LANG", "LC_ALL", "LOGNAME", "PATH", "SHELL", "TERM", "USER"], names);
        await raw.SendAsync(Json(new { cmd = "exec", id = 2, shell = "pwd", cwd = "../.." }));
        Assert.Equal(("path_escapes_root", false), await raw.ReadErrorAsync());
    }

    [Fact]
    public async Task A_command_that_never_ends_is_killed_with_its_children_at_the_timeout()
    {
        var marker = $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000)}";
        await using var raw = await HelloAsync(_server);
        var watch = Stopwatch.StartNew();
        var result = await ExecAsync(raw, new { cmd = "exec", id = 1, shell = $"sleep {marker} & sleep {marker}; echo never", timeout = 1 });
        Assert.True(result.Exit.GetProperty("timed_out").GetBoolean());
        Assert.Equal(124, result.Code);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(10));
        await AssertNoProcessWithAsync(marker);
    }

    [Fact]
    public async Task A_client_that_disconnects_takes_the_process_tree_with_it()
    {
        var marker = $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000)}";
        await using (var raw = await HelloAsync(_server))
        {
            await raw.SendAsync(Json(new { cmd = "exec", id = 1, shell = $"sleep {marker} & sleep {marker}" }));
            Assert.Equal("exec_started", (await raw.ReadAsync())!.Command);
            await HostTests.WaitUntilAsync(() => ProcessesWith(marker).Count == 2);
        }
        await AssertNoProcessWithAsync(marker);
    }

    [Fact]
    public async Task Ctrl_c_from_the_client_interrupts_the_command()
    {
        await using var raw = await HelloAsync(_server);
        var marker = $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000)}";
        var result = await ExecAsync(raw, new { cmd = "exec", id = 1, shell = $"echo started; sleep {marker}" }, whileRunning: async r =>
        {
            await HostTests.WaitUntilAsync(() => ProcessesWith(marker).Count == 1); // past the echo
            await r.SendAsync(Json(new { cmd = "signal", id = 1, signal = "INT" }));
        });
        Assert.Equal("started\n", result.Stdout);
        Assert.Equal(130, result.Code); // 128 + SIGINT, as a shell reports it
    }

    [Fact]
    public async Task A_command_may_run_longer_than_the_idle_timeout()
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowExec = true, IdleTimeout = TimeSpan.FromMilliseconds(500) });
        await using var raw = await HelloAsync(server);
        var result = await ExecAsync(raw, new { cmd = "exec", id = 1, shell = "sleep 1.5; echo done" });
        Assert.Equal("done\n", result.Stdout);
        Assert.Equal(0, result.Code);
    }

    [Fact]
    public async Task A_signal_gets_through_behind_stdin_the_command_never_reads()
    {
        await using var raw = await HelloAsync(_server);
        var watch = Stopwatch.StartNew();
        var marker = $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000)}";
        var result = await ExecAsync(raw, new { cmd = "exec", id = 1, argv = new[] { "sleep", marker } }, stdin: new byte[1024 * 1024], whileRunning: async r =>
        {
            await HostTests.WaitUntilAsync(() => ProcessesWith(marker).Count == 1);
            await r.SendAsync(Json(new { cmd = "signal", id = 1, signal = "KILL" }));
        });
        Assert.True(result.Exit.GetProperty("killed").GetBoolean());
        Assert.Equal(137, result.Code); // 128 + SIGKILL
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Output_over_the_limit_is_cut_with_a_marker()
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowExec = true, MaxExecOutputBytes = 1000 });
        await using var raw = await HelloAsync(server);
        var result = await ExecAsync(raw, new { cmd = "exec", id = 1, shell = "head -c 300000 /dev/zero; echo done >&2" });
        Assert.Equal(1000, result.Output.Where(o => o.Stream == "stdout").Sum(o => o.Data.Length));
        Assert.Contains("[ferry: output cut after 1000 bytes]", result.Stderr);
        Assert.True(result.Exit.GetProperty("truncated").GetBoolean());
        Assert.Equal(0, result.Code);
    }

    [Fact]
    public async Task Exec_is_refused_unless_the_server_allows_it()
    {
        await using var server = await TestServer.StartAsync();
        await using var raw = await HelloAsync(server);
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, shell = "true" }));
        Assert.Equal(("exec_disabled", false), await raw.ReadErrorAsync());
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, argv = new[] { "/nonexistent/program" } }));
        Assert.Equal(("exec_disabled", false), await raw.ReadErrorAsync());
    }

    [Fact]
    public async Task A_missing_program_is_a_clear_error()
    {
        await using var raw = await HelloAsync(_server);
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, argv = new[] { "/nonexistent/program" } }));
        var (code, fatal) = await raw.ReadErrorAsync();
        Assert.Equal(("exec_failed", false), (code, fatal));
        // The connection stays usable: the next command runs.
        await raw.SendAsync(Json(new { cmd = "exec", id = 2, argv = new[] { "true" } }));
        Assert.Equal("exec_started", (await raw.ReadAsync())!.Command);
    }

    internal static List<int> ProcessesWith(string marker)
    {
        var found = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
                continue;
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(marker, StringComparison.Ordinal) && !cmdline.Contains("/bin/sh", StringComparison.Ordinal))
                    found.Add(pid);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return found;
    }

    internal static async Task AssertNoProcessWithAsync(string marker)
    {
        var watch = Stopwatch.StartNew();
        while (ProcessesWith(marker).Count > 0 && watch.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(50);
        Assert.Empty(ProcessesWith(marker));
    }
}
