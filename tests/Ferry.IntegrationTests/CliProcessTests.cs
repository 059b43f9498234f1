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

        var (code, stdout, stderr) = await FerryProcess.RunAsync("echo", "--plain", "--server", address, "hello");
        Assert.True(code == 0, stderr);
        Assert.Equal("HELLO", stdout.Trim());

        server.Signal("TERM");
        await server.WaitForExitAsync();
        Assert.Equal(0, server.ExitCode);
        Assert.Contains("Stopped", server.Stdout);
        Assert.Matches(@"=> c[0-9a-f]+ ", server.Stdout); // connection id on connection lines
    }

    [Fact]
    public async Task A_default_server_needs_tls_and_a_login_and_user_add_plus_login_is_all_it_takes()
    {
        using var work = new TempDirectory("ferry-quickstart");
        var env = new Dictionary<string, string> { ["FERRY_CONFIG_DIR"] = work.Combine("client-config") };
        async Task<(int Code, string Out, string Err)> Ferry(string? stdin, params string[] args)
        {
            await using var p = FerryProcess.Start(args, work.Path, env, redirectStdin: stdin is not null);
            if (stdin is not null)
                await p.WriteStdinAndCloseAsync(stdin);
            await p.WaitForExitAsync();
            return (p.ExitCode, p.Stdout, p.Stderr);
        }

        var added = await Ferry(null, "user", "add", "alice");
        Assert.True(added.Code == 0, added.Err);
        var key = added.Out.Split('\n').Select(l => l.Trim()).Single(l => l.Length == 44 && l.EndsWith('='));

        await using var server = FerryProcess.Start(["serve", "--listen", "127.0.0.1:0"], work.Path, env);
        var address = await server.WaitForListeningAsync();

        // Without a login the server refuses, and says what to do.
        var anonymous = await Ferry(null, "ls", "--server", address);
        Assert.Equal(5, anonymous.Code);
        Assert.Contains("ferry login", anonymous.Err);
        Assert.Contains("fingerprint SHA256:", anonymous.Err); // first use: the fingerprint is shown (pinned only once a login proved the server)

        var login = await Ferry(key, "login", "--server", address, "--user", "alice");
        Assert.True(login.Code == 0, login.Err);
        Assert.True(File.Exists(Path.Combine(work.Path, "client-config", "credentials.json")));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(work.Path, "client-config", "credentials.json")));

        await File.WriteAllTextAsync(work.Combine("note.txt"), "carried safely");
        var put = await Ferry(null, "put", "--server", address, "-q", "note.txt");
        Assert.True(put.Code == 0, put.Err);
        Assert.Equal("carried safely", await File.ReadAllTextAsync(Path.Combine(work.Path, "ferry-data", "alice", "note.txt")));
        var echo = await Ferry(null, "echo", "--server", address, "secure");
        Assert.Equal("SECURE", echo.Out.Trim());

        // A wrong key is refused the same way, and nothing is stored.
        var wrong = await Ferry(Convert.ToBase64String(new byte[32]), "login", "--server", address, "--user", "alice");
        Assert.Equal(5, wrong.Code);
        Assert.Contains("Authentication failed", wrong.Err);
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
