using System.Security.Cryptography;
using Ferry.Testing;
using static Ferry.IntegrationTests.ExecProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary>
/// <c>ferry exec -t</c> in a real terminal (tmux), against a real server that runs commands in its sandbox: what a user
/// types and sees, and the state the local terminal is left in.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class ExecTerminalCliTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await TestServer.StartAsync(o => o with { AllowExec = true, ExecTimeout = TimeSpan.FromMinutes(2) });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    /// <summary>The command line that runs ferry exec -t in the pane, then shows ferry's exit code as [exit N].</summary>
    private string FerryTty(string command, string? server = null) =>
        $"dotnet {FerryProcess.FerryDll} exec -t --plain --server {server ?? _server.Address.ToString()} -- {command}; echo \"[exit $?]\"";

    [Fact]
    public async Task Vi_edits_and_saves_a_remote_file()
    {
        await File.WriteAllTextAsync(Path.Combine(_server.Root, "notes.txt"), "first line\n");
        // Written here as root; the command runs as the exec account.
        File.SetUnixFileMode(Path.Combine(_server.Root, "notes.txt"), (UnixFileMode)0b110_110_110);
        using var tmux = await TmuxTerminal.StartAsync();
        tmux.Type(FerryTty("vi notes.txt"));
        await tmux.WaitForTextAsync("first line");
        tmux.Type(":set showmode");
        tmux.TypeLiteral("Gosecond line");
        await tmux.WaitForTextAsync("-- INSERT --");
        tmux.Keys("Escape");
        // Keys right behind an Escape would read as an escape sequence: wait until vi is out of insert mode.
        await Eventually.UntilAsync(() => !string.Join('\n', tmux.Screen()).Contains("-- INSERT --", StringComparison.Ordinal), "the end of insert mode");
        tmux.Type(":wq");
        await tmux.WaitForTextAsync("[exit 0]");
        Assert.Equal("first line\nsecond line\n", await File.ReadAllTextAsync(Path.Combine(_server.Root, "notes.txt")));
    }

    [Fact]
    public async Task Resizing_the_local_window_changes_the_remote_terminal_size()
    {
        using var tmux = await TmuxTerminal.StartAsync(100, 30);
        tmux.Type(FerryTty("bash -c \"trap 'stty size' WINCH; stty size; while :; do sleep 0.1; done\""));
        await tmux.WaitForTextAsync("30 100");
        tmux.Resize(120, 40);
        await tmux.WaitForTextAsync("40 120");
        tmux.Resize(70, 20);
        await tmux.WaitForTextAsync("20 70");
        tmux.Keys("C-c");
        await tmux.WaitForTextAsync("[exit 130]");
    }

    [Fact]
    public async Task Ctrl_c_interrupts_a_remote_sleep_and_the_session_goes_on()
    {
        using var tmux = await TmuxTerminal.StartAsync();
        var marker = $"{Random.Shared.Next(100, 999)}.{Random.Shared.Next(100000, 999999)}";
        tmux.Type(FerryTty("bash"));
        await tmux.WaitForTextAsync("ferry-exec@");
        tmux.Type($"sleep {marker}");
        await Eventually.UntilAsync(() => ProcessesWith(marker).Count == 1, "the remote sleep");
        tmux.Keys("C-c");
        await Eventually.UntilAsync(() => ProcessesWith(marker).Count == 0, "the end of the remote sleep");
        tmux.Type("echo still-$((40+2))");
        await tmux.WaitForTextAsync("still-42");
        tmux.Type("exit 3");
        await tmux.WaitForTextAsync("[exit 3]");
    }

    [Fact]
    public async Task The_python_repl_evaluates_an_expression()
    {
        using var tmux = await TmuxTerminal.StartAsync();
        tmux.Type(FerryTty("python3 -q"));
        await tmux.WaitForTextAsync(">>>");
        tmux.Type("6*7+2+2");
        await tmux.WaitForAsync(t => t.Split('\n').Any(l => l.Trim() == "46"), "46 on a line of its own");
        tmux.Keys("C-d");
        await tmux.WaitForTextAsync("[exit 0]");
    }

    [Fact]
    public async Task A_password_typed_at_a_silent_prompt_is_not_echoed()
    {
        using var tmux = await TmuxTerminal.StartAsync();
        // The prompt as shown differs from the command line typed (which the local terminal shows): only the remote prompt counts.
        tmux.Type(FerryTty("bash -c 'read -s -p \"Password $((6*7)): \" pw; echo; echo \"got ${#pw} characters\"'"));
        await tmux.WaitForTextAsync("Password 42: ");
        tmux.Type("hunter2secret");
        var text = await tmux.WaitForTextAsync("[exit 0]");
        Assert.Contains("got 13 characters", text);
        Assert.DoesNotContain("hunter2secret", text);
    }

    [Fact]
    public async Task A_command_killed_by_a_signal_is_reported_and_ferry_exits_128_plus_n()
    {
        using var tmux = await TmuxTerminal.StartAsync();
        tmux.Type(FerryTty("sh -c 'kill -TERM $$'"));
        var text = await tmux.WaitForTextAsync("[exit 143]");
        Assert.Contains("killed by signal TERM", text);
    }

    [Fact]
    public async Task Top_draws_a_screen_that_fits_the_window()
    {
        // Narrower than top's summary lines: they fit only if top knows the width and cuts them.
        using var tmux = await TmuxTerminal.StartAsync(60, 20);
        tmux.Type("clear; " + FerryTty("top -d 1"));
        var screen = Array.Empty<string>();
        await Eventually.UntilAsync(() => (screen = tmux.Screen())[0].StartsWith("top - ", StringComparison.Ordinal) && screen[1].StartsWith("Tasks:", StringComparison.Ordinal)
            && screen.Any(l => l.TrimStart().StartsWith("PID", StringComparison.Ordinal)), "top's screen", TimeSpan.FromSeconds(60));
        // Each summary line is cut at the width, not wrapped onto the next row.
        Assert.StartsWith("%Cpu", screen[2]);
        Assert.StartsWith("MiB Mem", screen[3]);
        Assert.Equal(60, screen[0].Length);
        tmux.TypeLiteral("q");
        await tmux.WaitForTextAsync("[exit 0]");
    }

    [Fact]
    public async Task A_hundred_mebibytes_through_the_terminal_arrive_complete()
    {
        // Remote: a file of exactly 100 MiB with no newline (a terminal turns \n into \r\n), written to the terminal.
        // Local: ferry's output counted and hashed, ferry's keyboard being the tmux pane.
        const long Size = 100L * 1024 * 1024;
        using var tmux = await TmuxTerminal.StartAsync();
        var count = tmux.Folder.Combine("count");
        var hash = tmux.Folder.Combine("hash");
        var make = "head -c 78643200 /dev/urandom | base64 -w 0 > big.txt";
        tmux.Type($"dotnet {FerryProcess.FerryDll} exec -t --plain --server {_server.Address} -- \"{make}; cat big.txt\" | tee >(wc -c > {count}) | sha256sum > {hash}; echo \"[exit ${{PIPESTATUS[0]}}]\"");
        await tmux.WaitForTextAsync("[exit 0]", deadline: TimeSpan.FromMinutes(3));
        await Eventually.UntilAsync(() => File.Exists(count) && new FileInfo(count).Length > 0, "the count");
        var sent = Path.Combine(_server.Root, "big.txt");
        Assert.Equal(Size, new FileInfo(sent).Length);
        Assert.Equal(Size, long.Parse((await File.ReadAllTextAsync(count)).Trim(), System.Globalization.CultureInfo.InvariantCulture));
        await using var file = File.OpenRead(sent);
        var expected = Convert.ToHexStringLower(await SHA256.HashDataAsync(file));
        Assert.StartsWith(expected, await File.ReadAllTextAsync(hash));
    }

    [Fact]
    public async Task Tilde_dot_after_enter_drops_the_session()
    {
        using var tmux = await TmuxTerminal.StartAsync();
        var marker = $"{Random.Shared.Next(100, 999)}.{Random.Shared.Next(100000, 999999)}";
        tmux.Type(FerryTty($"sleep {marker}"));
        await Eventually.UntilAsync(() => ProcessesWith(marker).Count == 1, "the remote sleep");
        tmux.Keys("Enter");
        tmux.TypeLiteral("~.");
        var text = await tmux.WaitForTextAsync("[exit 255]");
        Assert.Contains("dropped", text);
        await AssertNoProcessWithAsync(marker);
    }

    /// <summary>
    /// The command run by a non-interactive sh: an interactive bash puts its own terminal modes back after a job killed
    /// by a signal, which would hide a client that left the terminal raw.
    /// </summary>
    private static string InScript(TmuxTerminal tmux, string command)
    {
        var script = tmux.Folder.Combine($"run-{Guid.NewGuid():N}.sh");
        File.WriteAllText(script, command + "\n");
        return $"sh {script}";
    }

    [Fact]
    public async Task Sigterm_to_the_client_leaves_the_local_terminal_as_it_was()
    {
        using var tmux = await TmuxTerminal.StartAsync();
        var before = tmux.Folder.Combine("before");
        var after = tmux.Folder.Combine("after");
        tmux.Type($"stty -g > {before}");
        await Eventually.UntilAsync(() => File.Exists(before) && new FileInfo(before).Length > 0, "the modes before");
        var marker = $"{Random.Shared.Next(100, 999)}.{Random.Shared.Next(100000, 999999)}";
        tmux.Type(InScript(tmux, FerryTty($"sleep {marker}")));
        await Eventually.UntilAsync(() => ProcessesWith(marker).Count >= 2, "the client and the remote sleep");
        var client = ProcessesWith(marker).Single(pid => File.ReadAllText($"/proc/{pid}/cmdline").Contains("ferry.dll", StringComparison.Ordinal));
        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", client.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        await tmux.WaitForAsync(t => System.Text.RegularExpressions.Regex.IsMatch(t, @"\[exit \d+\]"), "ferry to end");
        tmux.Type($"stty -g > {after}");
        await Eventually.UntilAsync(() => File.Exists(after) && new FileInfo(after).Length > 0, "the modes after");
        Assert.Equal(await File.ReadAllTextAsync(before), await File.ReadAllTextAsync(after));
        await AssertNoProcessWithAsync(marker);
    }

    [Fact]
    public async Task Killing_the_server_leaves_the_local_terminal_as_it_was()
    {
        using var root = new TempDirectory("ferry-root");
        using var state = new TempDirectory("ferry-state");
        await using var server = FerryProcess.Start(["serve", "--listen", "127.0.0.1:0", "--root", root.Path, "--state-dir", state.Path, "--insecure-no-auth", "--allow-exec"]);
        var address = await server.WaitForListeningAsync();
        using var tmux = await TmuxTerminal.StartAsync();
        var before = tmux.Folder.Combine("before");
        var after = tmux.Folder.Combine("after");
        var modes = tmux.Folder.Combine("modes");
        tmux.Type($"stty -g > {before}");
        await Eventually.UntilAsync(() => File.Exists(before) && new FileInfo(before).Length > 0, "the modes before");
        tmux.Type(InScript(tmux, FerryTty("bash", address)));
        await tmux.WaitForTextAsync("ferry-exec@");
        server.Signal("KILL");
        var end = await tmux.WaitForAsync(t => System.Text.RegularExpressions.Regex.IsMatch(t, @"\[exit \d+\]"), "ferry to end");
        Assert.DoesNotContain("[exit 0]", end);
        tmux.Type($"stty -a > {modes}; stty -g > {after}");
        await Eventually.UntilAsync(() => File.Exists(after) && new FileInfo(after).Length > 0, "the modes after");
        Assert.Equal(await File.ReadAllTextAsync(before), await File.ReadAllTextAsync(after));
        // And it is a usable terminal again: lines, echo, Ctrl-C (the restored modes are also exactly those found).
        var flags = (await File.ReadAllTextAsync(modes)).Split([' ', '\n', ';'], StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("icanon", flags);
        Assert.Contains("echo", flags);
        Assert.Contains("isig", flags);
    }

    [Fact]
    public async Task Ferry_shell_is_a_login_shell_on_a_terminal_with_the_built_ins_behind_an_escape_and_a_saved_history()
    {
        using var state = new TempDirectory("ferry-state-home");
        using var tmux = await TmuxTerminal.StartAsync(environment: new Dictionary<string, string> { ["XDG_STATE_HOME"] = state.Path });
        var local = tmux.Folder.Combine("upload.txt");
        await File.WriteAllTextAsync(local, "from the local side\n");
        tmux.Type($"cd {tmux.Folder.Path}; dotnet {FerryProcess.FerryDll} shell --plain --server {_server.Address}; echo \"[exit $?]\"");
        await tmux.WaitForTextAsync("ferry-exec@");
        tmux.Type("python3 -c 'import sys; print(\"tty\" if sys.stdin.isatty() else \"pipe\", 40+2)'");
        await tmux.WaitForTextAsync("tty 42");
        tmux.TypeLiteral("~:");
        await tmux.WaitForTextAsync("ferry> ");
        tmux.Type("put upload.txt");
        await Eventually.UntilAsync(() => File.Exists(Path.Combine(_server.Root, "upload.txt")), "the upload");
        tmux.Type("cat upload.txt; exit 6");
        var text = await tmux.WaitForTextAsync("[exit 6]");
        Assert.Contains("from the local side", text);
        var history = Path.Combine(state.Path, "ferry", "history", _server.Address.ToString().Replace(':', '_'));
        Assert.Equal(["put upload.txt"], await File.ReadAllLinesAsync(history));
    }
}
