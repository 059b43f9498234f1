using System.Text;
using System.Text.Json;
using Ferry.Testing;
using static Ferry.IntegrationTests.ExecProtocolTests;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary>Commands on a pseudo-terminal at the frame level (docs/protocol.md §6.4), in the sandbox, and what a hostile client cannot do with them.</summary>
public class ExecTerminalProtocolTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await TestServer.StartAsync(o => o with { AllowExec = true, ExecTimeout = TimeSpan.FromMinutes(1) });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static object Tty(long cols = 80, long rows = 24, string term = "xterm-256color") => new { term, cols, rows, xpixel = 0, ypixel = 0 };

    [Fact]
    public async Task The_hello_announces_terminals()
    {
        await using var raw = await RawConnection.ConnectAsync(_server.EndPoint);
        await raw.SendHelloAsync();
        var hello = JsonDocument.Parse((await raw.ReadAsync())!.Json).RootElement;
        Assert.Contains("exec_tty", hello.GetProperty("features").EnumerateArray().Select(f => f.GetString()));
    }

    [Fact]
    public async Task A_command_on_a_terminal_sees_one_of_the_requested_size_with_output_merged()
    {
        await using var raw = await HelloAsync(_server);
        var result = await ExecAsync(raw, new
        {
            cmd = "exec", id = 1, tty = Tty(cols: 101, rows: 33, term: "vt220"),
            shell = "stty size; test -t 0 && test -t 1 && echo terminal; echo $TERM; echo oops >&2; test \"$(ps -o tpgid= -p $$)\" -gt 0 && echo controlling",
        });
        Assert.Equal(0, result.Code);
        Assert.Empty(result.Stderr);
        // The terminal turns \n into \r\n, as any terminal does.
        Assert.Equal("33 101\r\nterminal\r\nvt220\r\noops\r\ncontrolling\r\n", result.Stdout);
        Assert.False(result.Exit.TryGetProperty("signal", out _));
    }

    [Fact]
    public async Task A_window_change_reaches_the_command()
    {
        await using var raw = await HelloAsync(_server);
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, tty = Tty(), shell = "stty -echo; stty size; read line; stty size" }));
        Assert.Equal("exec_started", (await raw.ReadAsync())!.Command);
        Assert.Equal("24 80\r\n", await ReadOutputUntilAsync(raw, "\n"));
        await raw.SendAsync(Json(new { cmd = "window_change", id = 1, cols = 132, rows = 50, xpixel = 1320, ypixel = 1000 }));
        await raw.SendAsync(Json(new { cmd = "stdin", id = 1, bodysize = 1 }, "\r"u8));
        Assert.Equal("50 132\r\n", await ReadOutputUntilAsync(raw, "\n"));
        var exit = await ReadExitAsync(raw);
        Assert.Equal(0, exit.GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task An_interrupt_reaches_the_foreground_job_and_the_exit_names_the_signal()
    {
        await using var raw = await HelloAsync(_server);
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, tty = Tty(), shell = "echo ready; exec sleep 100" }));
        Assert.Equal("exec_started", (await raw.ReadAsync())!.Command);
        Assert.Equal("ready\r\n", await ReadOutputUntilAsync(raw, "\n"));
        await raw.SendAsync(Json(new { cmd = "signal", id = 1, signal = "INT" }));
        var exit = await ReadExitAsync(raw);
        Assert.Equal(130, exit.GetProperty("code").GetInt32());
        Assert.Equal("INT", exit.GetProperty("signal").GetString());
        Assert.False(exit.GetProperty("core_dumped").GetBoolean());
    }

    [Fact]
    public async Task Ctrl_c_typed_on_the_terminal_interrupts_only_the_job_and_the_shell_goes_on()
    {
        await using var raw = await HelloAsync(_server);
        var marker = $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000)}";
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, tty = Tty(), shell = $"trap 'echo trapped' INT; stty -echo; sleep {marker}; echo after $?; exit 5" }));
        Assert.Equal("exec_started", (await raw.ReadAsync())!.Command);
        await HostTests.WaitUntilAsync(() => ProcessesWith(marker).Count == 1);
        await raw.SendAsync(Json(new { cmd = "stdin", id = 1, bodysize = 1 }, [0x03]));
        // The whole foreground group gets it, as on any terminal: sleep dies of it, the shell (which traps it) carries on.
        Assert.Equal("trapped\r\nafter 130\r\n", await ReadOutputUntilAsync(raw, "after 130\r\n"));
        Assert.Equal(5, (await ReadExitAsync(raw)).GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Unconfined_the_command_takes_the_terminal_as_its_controlling_terminal_too()
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowExec = true, ExecUnconfined = true });
        await using var raw = await HelloAsync(server);
        var result = await ExecAsync(raw, new
        {
            cmd = "exec", id = 1, tty = Tty(cols: 90, rows: 30),
            shell = "stty size; test \"$(ps -o tpgid= -p $$)\" -gt 0 && echo controlling; ulimit -c 0; kill -QUIT $$",
        });
        Assert.Equal("30 90\r\ncontrolling\r\n", result.Stdout);
        Assert.Equal(131, result.Code);
        Assert.Equal("QUIT", result.Exit.GetProperty("signal").GetString());
        Assert.False(result.Exit.GetProperty("core_dumped").GetBoolean());
    }

    [Fact]
    public async Task A_command_killed_by_a_signal_reports_it_on_pipes_too()
    {
        await using var raw = await HelloAsync(_server);
        var result = await ExecAsync(raw, new { cmd = "exec", id = 1, shell = "kill -SEGV $$" });
        Assert.Equal(139, result.Code);
        Assert.Equal("SEGV", result.Exit.GetProperty("signal").GetString());
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(100000)]
    [InlineData(long.MaxValue)]
    public async Task A_window_change_of_an_absurd_size_ends_the_conversation_and_the_command(long size)
    {
        await using var raw = await HelloAsync(_server);
        var marker = $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000)}";
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, tty = Tty(), shell = $"sleep {marker}" }));
        Assert.Equal("exec_started", (await raw.ReadAsync())!.Command);
        await raw.SendAsync(Json(new { cmd = "window_change", id = 1, cols = size, rows = 24, xpixel = 0, ypixel = 0 }));
        Assert.Equal(("field_invalid", true), await ReadErrorSkippingOutputAsync(raw));
        await AssertNoProcessWithAsync(marker);
    }

    [Fact]
    public async Task A_window_of_zero_cells_is_unknown_and_accepted()
    {
        await using var raw = await HelloAsync(_server);
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, tty = Tty(), shell = "stty -echo; echo ready; read line; stty size" }));
        Assert.Equal("exec_started", (await raw.ReadAsync())!.Command);
        Assert.Equal("ready\r\n", await ReadOutputUntilAsync(raw, "\n"));
        await raw.SendAsync(Json(new { cmd = "window_change", id = 1, cols = 0, rows = 0, xpixel = 0, ypixel = 0 }));
        await raw.SendAsync(Json(new { cmd = "stdin", id = 1, bodysize = 1 }, "\r"u8));
        Assert.Equal("0 0\r\n", await ReadOutputUntilAsync(raw, "\n"));
        Assert.Equal(0, (await ReadExitAsync(raw)).GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task A_window_change_for_a_command_without_a_terminal_is_refused()
    {
        await using var raw = await HelloAsync(_server);
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, shell = "sleep 30" }));
        Assert.Equal("exec_started", (await raw.ReadAsync())!.Command);
        await raw.SendAsync(Json(new { cmd = "window_change", id = 1, cols = 80, rows = 24, xpixel = 0, ypixel = 0 }));
        Assert.Equal(("unexpected_frame", true), await ReadErrorSkippingOutputAsync(raw));
    }

    [Theory]
    [InlineData("STOP")]
    [InlineData("SIGINT")]
    [InlineData("int")]
    [InlineData("9")]
    [InlineData("")]
    public async Task A_signal_that_is_not_allowed_is_refused(string name)
    {
        await using var raw = await HelloAsync(_server);
        var marker = $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000)}";
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, tty = Tty(), shell = $"sleep {marker}" }));
        Assert.Equal("exec_started", (await raw.ReadAsync())!.Command);
        await raw.SendAsync(Json(new { cmd = "signal", id = 1, signal = name }));
        Assert.Equal(("field_invalid", true), await ReadErrorSkippingOutputAsync(raw));
        await AssertNoProcessWithAsync(marker);
    }

    [Theory]
    [InlineData("xterm\u001b[31m")]
    [InlineData("xterm\nevil")]
    [InlineData("x term")]
    [InlineData("xterm/../../etc")]
    public async Task A_term_with_control_characters_is_refused_before_anything_runs(string term)
    {
        await using var raw = await HelloAsync(_server);
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, tty = Tty(term: term), shell = "true" }));
        Assert.Equal(("field_invalid", false), await raw.ReadErrorAsync());
        // The connection stays usable.
        var result = await ExecAsync(raw, new { cmd = "exec", id = 1, tty = Tty(), shell = "echo $TERM" });
        Assert.Equal("xterm-256color\r\n", result.Stdout);
    }

    [Fact]
    public async Task A_huge_term_or_size_in_the_request_is_refused()
    {
        await using var raw = await HelloAsync(_server);
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, tty = Tty(term: new string('x', 1000)), shell = "true" }));
        Assert.Equal(("field_invalid", false), await raw.ReadErrorAsync());
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, tty = Tty(cols: 65536), shell = "true" }));
        Assert.Equal(("field_invalid", false), await raw.ReadErrorAsync());
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, tty = Tty(rows: -24), shell = "true" }));
        Assert.Equal(("field_invalid", false), await raw.ReadErrorAsync());
    }

    [Fact]
    public async Task A_terminal_without_a_command_is_a_login_shell_in_the_home()
    {
        await using var raw = await HelloAsync(_server);
        await raw.SendAsync(Json(new { cmd = "exec", id = 1, tty = Tty() }));
        Assert.Equal("exec_started", (await raw.ReadAsync())!.Command);
        var line = "stty -echo; echo \"[$(pwd)]\"; shopt -q login_shell && echo log''in; exit 4\r"u8.ToArray();
        await raw.SendAsync(Json(new { cmd = "stdin", id = 1, bodysize = line.Length }, line));
        var output = await ReadOutputUntilAsync(raw, "login\r\n");
        Assert.Contains($"[{_server.Root}]", output);
        Assert.Equal(4, (await ReadExitAsync(raw)).GetProperty("code").GetInt32());
    }

    /// <summary>Reads stdout frames until their text contains <paramref name="until"/>; returns all of it.</summary>
    private static async Task<string> ReadOutputUntilAsync(RawConnection raw, string until)
    {
        var text = new StringBuilder();
        while (!text.ToString().Contains(until, StringComparison.Ordinal))
        {
            var frame = await raw.ReadAsync() ?? throw new InvalidOperationException($"closed before '{until}'; had: {text}");
            Assert.True(frame.Command == "stdout", frame.Json);
            text.Append(Encoding.UTF8.GetString(frame.Body));
        }
        return text.ToString();
    }

    /// <summary>Reads to exit (output dropped), then hands the connection back with exec_done.</summary>
    private static async Task<JsonElement> ReadExitAsync(RawConnection raw)
    {
        while (true)
        {
            var frame = await raw.ReadAsync() ?? throw new InvalidOperationException("closed before exit");
            if (frame.Command == "exit")
            {
                await raw.SendAsync(Json(new { cmd = "stdin_end", id = 1 }));
                await raw.SendAsync(Json(new { cmd = "exec_done", id = 1 }));
                return JsonDocument.Parse(frame.Json).RootElement.Clone();
            }
            Assert.True(frame.Command == "stdout", frame.Json);
        }
    }

    private static async Task<(string Code, bool Fatal)> ReadErrorSkippingOutputAsync(RawConnection raw)
    {
        while (true)
        {
            var frame = await raw.ReadAsync() ?? throw new InvalidOperationException("closed without an error");
            if (frame.Command == "error")
            {
                var error = JsonDocument.Parse(frame.Json).RootElement;
                return (error.GetProperty("code").GetString()!, error.TryGetProperty("fatal", out var f) && f.GetBoolean());
            }
            Assert.True(frame.Command == "stdout", frame.Json);
        }
    }
}
