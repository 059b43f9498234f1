using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>The real ferry executable, as a user runs it.</summary>
public class CliProcessTests
{
    [Fact]
    public async Task Serve_then_echo_prints_HELLO_and_sigterm_stops_cleanly()
    {
        using var root = new TempDirectory();
        await using var server = FerryProcess.Start(["serve", "--listen", "127.0.0.1:0", "--root", root.Path, "--insecure-no-auth"]);
        var address = await server.WaitForListeningAsync();

        var (code, stdout, stderr) = await FerryProcess.RunAsync("echo", "--server", address, "hello");
        Assert.True(code == 0, stderr);
        Assert.Equal("HELLO", stdout.Trim());

        server.Signal("TERM");
        await server.WaitForExitAsync();
        Assert.Equal(0, server.ExitCode);
        Assert.Contains("Stopped", server.Stdout);
        Assert.Matches(@"=> c[0-9a-f]+ ", server.Stdout); // connection id on connection lines
    }

    [Fact]
    public async Task Ctrl_c_stops_the_server_gracefully()
    {
        using var root = new TempDirectory();
        await using var server = FerryProcess.Start(["serve", "--listen", "127.0.0.1:0", "--root", root.Path, "--insecure-no-auth"]);
        await server.WaitForListeningAsync();
        server.Signal("INT");
        await server.WaitForExitAsync();
        Assert.Contains("Stopping", server.Stdout);
        Assert.Contains("Stopped", server.Stdout);
    }

    [Fact]
    public async Task Unreachable_server_is_exit_code_3_with_a_plain_sentence()
    {
        var (code, _, stderr) = await FerryProcess.RunAsync("echo", "--server", "127.0.0.1:1", "hi");
        Assert.Equal(3, code);
        Assert.Contains("Nothing is listening at 127.0.0.1:1", stderr);
    }

    [Theory]
    [InlineData("echo", "--server", "127.0.0.1:notaport", "hi")]
    [InlineData("echo", "--server", "::1", "hi")]
    [InlineData("serve", "--listen", "example.com:80")]
    [InlineData("serve", "--max-connections", "0")]
    [InlineData("serve", "--header-timeout", "-1")]
    [InlineData("nonsense")]
    public async Task Bad_command_lines_are_exit_code_2(params string[] args)
    {
        var (code, _, stderr) = await FerryProcess.RunAsync(args);
        Assert.Equal(2, code);
        Assert.StartsWith("ferry", stderr.Trim());
    }

    [Fact]
    public async Task Busy_port_is_a_clear_error()
    {
        using var root = new TempDirectory();
        await using var first = FerryProcess.Start(["serve", "--listen", "127.0.0.1:0", "--root", root.Path, "--insecure-no-auth"]);
        var address = await first.WaitForListeningAsync();
        var (code, _, stderr) = await FerryProcess.RunAsync("serve", "--listen", address, "--root", root.Path);
        Assert.Equal(2, code);
        Assert.Contains("cannot listen", stderr);
    }
}
