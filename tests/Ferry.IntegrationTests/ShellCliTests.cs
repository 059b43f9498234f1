using Ferry.Testing;
using static Ferry.IntegrationTests.ExecProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary><c>ferry shell</c> driven through a pipe (not a terminal: lines are read as they come), with the real executable.</summary>
public class ShellCliTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await TestServer.StartAsync(o => o with { AllowExec = true, ExecTimeout = TimeSpan.FromMinutes(1) });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private string[] Shell => ["shell", "--plain", "--server", _server.Address.ToString()];

    [Fact]
    public async Task Built_ins_and_remote_lines_share_one_connection_and_a_working_directory()
    {
        Directory.CreateDirectory(Path.Combine(_server.Root, "sub"));
        using var local = new TempDirectory("ferry-shell-local");
        await File.WriteAllTextAsync(local.Combine("note.txt"), "carried by the shell\n");
        var script = string.Join('\n',
            "pwd",
            "cd sub",
            "pwd",
            "put note.txt",
            "cat note.txt",
            "ls",
            "exit 3",
            "cd nosuch",
            "printf 'no newline'",
            "get note.txt back.txt",
            "cd ..",
            "echo \"home is $(pwd)\"",
            "quit",
            "echo never") + "\n";

        var run = await FerryRun.RunAsync(Shell, System.Text.Encoding.UTF8.GetBytes(script), workingDirectory: local.Path);

        Assert.True(run.ExitCode == 0, run.Stderr);
        var prompt = $"ferry {_server.Address}:/";
        Assert.Contains($"{prompt}$ /\n", run.Stdout);                 // pwd at the home
        Assert.Contains($"{prompt}sub$ /sub\n", run.Stdout);           // cd checked the directory remotely
        Assert.Contains("note.txt -> /sub/note.txt (21 bytes)", run.Stdout);
        Assert.Equal("carried by the shell\n", await File.ReadAllTextAsync(Path.Combine(_server.Root, "sub", "note.txt")));
        Assert.Contains($"{prompt}sub$ carried by the shell\n", run.Stdout); // cat ran in the remote directory
        Assert.Matches(@"note\.txt\s+21\s+\S+ \S+\s+file", run.Stdout);
        Assert.Contains("[exit 3]", run.Stderr);
        Assert.Contains("'sub/nosuch' does not exist", run.Stderr);
        Assert.Contains("no newline\n", run.Stdout);                    // the prompt starts on a new line
        Assert.Equal("carried by the shell\n", await File.ReadAllTextAsync(local.Combine("back.txt")));
        Assert.Contains($"home is {_server.Root}\n", run.Stdout);
        Assert.DoesNotContain("never", run.Stdout);
        Assert.Single(_server.Logs.Lines, e => e.Message.Contains("Hello from", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Ctrl_c_interrupts_the_running_command_but_not_the_shell_and_end_of_input_leaves()
    {
        var marker = ExecClientTests.Marker();
        await using var shell = FerryRun.Start(Shell);
        await shell.WriteLineAsync($"sleep {marker}");
        await HostTests.WaitUntilAsync(() => ProcessesWith(marker).Count == 1);
        shell.Signal("INT");
        await AssertNoProcessWithAsync(marker);
        await shell.WriteLineAsync("echo still here");
        shell.CloseStdin(); // Ctrl-D
        var run = await shell.FinishAsync();

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("[interrupted, exit 130]", run.Stderr);
        Assert.Contains("still here\n", run.Stdout);
    }

    [Fact]
    public async Task A_connection_the_server_dropped_while_idle_is_replaced_before_the_next_line()
    {
        // Long enough for the first command to finish on a loaded machine (at 1 s the server sometimes closed while
        // "echo one" was still under way, and the shell rightly reported a protocol error), short enough to wait out.
        await using var server = await TestServer.StartAsync(o => o with { AllowExec = true, IdleTimeout = TimeSpan.FromSeconds(5) });
        await using var shell = FerryRun.Start(["shell", "--plain", "--server", server.Address.ToString()]);
        await shell.WriteLineAsync("echo one");
        // Once the server has sent its farewell and closed, not merely decided to (the idle_timeout line comes first).
        await HostTests.WaitUntilAsync(() => server.Logs.Lines.Any(l => l.Message.StartsWith("Connection closed", StringComparison.Ordinal)));
        await shell.WriteLineAsync("echo two");
        shell.CloseStdin();
        var run = await shell.FinishAsync();

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("one\n", run.Stdout);
        Assert.Contains("two\n", run.Stdout);
        Assert.Contains($"ferry: reconnected to {server.Address}.", run.Stderr);
        Assert.DoesNotContain("idle_timeout", run.Stderr);
    }
}
