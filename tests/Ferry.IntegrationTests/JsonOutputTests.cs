using System.Text.Json;
using Ferry.Server.Auth;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>--json on every client command: one JSON object per line on stdout, failures as an error object with a stable code.</summary>
public class JsonOutputTests
{
    private static string Event(JsonElement e) => e.GetProperty("event").GetString()!;

    private static void AssertError(CliResult result, int exitCode, string code)
    {
        Assert.Equal(exitCode, result.ExitCode);
        var error = Assert.Single(result.JsonLines());
        Assert.Equal("error", Event(error));
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(exitCode, error.GetProperty("exit").GetInt32());
        Assert.Contains(error.GetProperty("message").GetString()!, result.Stderr); // the same sentence a person reads
    }

    [Fact]
    public async Task Ls_stat_mkdir_mv_rm_and_echo_print_their_results_as_json_lines()
    {
        await using var server = await TestServer.StartAsync();
        string[] At(params string[] args) => [args[0], "--plain", "--server", server.Address.ToString(), "--json", .. args[1..]];
        using var local = new TempDirectory();
        var note = TestFiles.CreateText(local.Combine("note.txt"), "hello, ferry");

        var mkdir = await Cli.RunAsync(At("mkdir", "-p", "docs/2025"));
        mkdir.AssertSuccess();
        var made = Assert.Single(mkdir.JsonLines());
        Assert.Equal(("done", "docs/2025"), (Event(made), made.GetProperty("path").GetString()));

        (await Cli.RunAsync("put", "--plain", "--server", server.Address.ToString(), "-q", note, "docs/note.txt")).AssertSuccess();
        var ls = await Cli.RunAsync(At("ls", "docs"));
        ls.AssertSuccess();
        var entries = ls.JsonLines();
        Assert.All(entries, e => Assert.Equal("entry", Event(e)));
        Assert.Equal(["2025", "note.txt"], entries.Select(e => e.GetProperty("name").GetString()));
        Assert.Equal(["dir", "file"], entries.Select(e => e.GetProperty("type").GetString()));
        Assert.Equal(12, entries[1].GetProperty("size").GetInt64());
        var modified = DateTimeOffset.FromUnixTimeSeconds(entries[1].GetProperty("modified").GetInt64());
        Assert.InRange(modified, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5));

        var stat = await Cli.RunAsync(At("stat", "docs/note.txt"));
        stat.AssertSuccess();
        var entry = Assert.Single(stat.JsonLines());
        Assert.Equal(("entry", "docs/note.txt", "file", 12L), (Event(entry), entry.GetProperty("path").GetString(), entry.GetProperty("type").GetString(), entry.GetProperty("size").GetInt64()));

        var mv = await Cli.RunAsync(At("mv", "docs/note.txt", "docs/2025/note.txt"));
        mv.AssertSuccess();
        var moved = Assert.Single(mv.JsonLines());
        Assert.Equal(("done", "docs/note.txt", "docs/2025/note.txt"), (Event(moved), moved.GetProperty("path").GetString(), moved.GetProperty("to").GetString()));
        Assert.Equal("hello, ferry", File.ReadAllText(Path.Combine(server.Root, "docs", "2025", "note.txt")));

        var rm = await Cli.RunAsync(At("rm", "-r", "docs"));
        rm.AssertSuccess();
        Assert.Equal("done", Event(Assert.Single(rm.JsonLines())));
        Assert.False(Directory.Exists(Path.Combine(server.Root, "docs")));

        var echo = await Cli.RunAsync(At("echo", "it's 中文"));
        echo.AssertSuccess();
        Assert.Equal("IT'S 中文", Assert.Single(echo.JsonLines()).GetProperty("text").GetString());
        Assert.Contains("IT'S 中文", echo.Stdout); // readable as it is, not \u-escaped

        // Failures: the error object carries the wire name, or the exit code's name when there is none.
        AssertError(await Cli.RunAsync(At("stat", "docs")), 6, "not_found");
        AssertError(await Cli.RunAsync(At("rm", "../outside")), 10, "path_escapes_root");
        AssertError(await Cli.RunAsync("ls", "--json", "--plain", "--server", "127.0.0.1:1"), 3, "unreachable");
        AssertError(await Cli.RunAsync("mkdir", "--json", "--server", "127.0.0.1:1", "--no-such-option", "x"), 2, "usage");
        AssertError(await Cli.RunAsync(At("put", local.Combine("missing*.txt"))), 6, "not_found");
    }

    [Fact]
    public async Task Exec_json_streams_output_pieces_and_ends_with_the_exit_code()
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowExec = true, ExecTimeout = TimeSpan.FromMinutes(1) });
        var run = await Cli.RunAsync("exec", "--plain", "--server", server.Address.ToString(), "--json", "--", "echo 中文; echo oops >&2; exit 3");
        Assert.Equal(3, run.ExitCode);
        var lines = run.JsonLines();
        Assert.Equal("中文\n", string.Concat(lines.Where(e => Event(e) == "stdout").Select(e => e.GetProperty("text").GetString())));
        Assert.Equal("oops\n", string.Concat(lines.Where(e => Event(e) == "stderr").Select(e => e.GetProperty("text").GetString())));
        var exit = lines[^1];
        Assert.Equal(("exit", 3), (Event(exit), exit.GetProperty("exit").GetInt32()));
        Assert.False(exit.TryGetProperty("timed_out", out _));

        var killed = await Cli.RunAsync("exec", "--plain", "--server", server.Address.ToString(), "--json", "--timeout", "0.5", "--", "sleep 30");
        Assert.Equal(124, killed.ExitCode);
        var timedOut = killed.JsonLines()[^1];
        Assert.Equal(("exit", 124, true), (Event(timedOut), timedOut.GetProperty("exit").GetInt32(), timedOut.GetProperty("timed_out").GetBoolean()));
    }

    [Fact]
    public async Task User_commands_and_login_print_json_and_a_key_file_hands_the_key_to_login()
    {
        using var work = new TempDirectory("ferry-json-users");
        var env = new Dictionary<string, string> { ["FERRY_CONFIG_DIR"] = work.Combine("client-config") };
        async Task<CliResult> Ferry(string? stdin, params string[] args)
        {
            await using var p = FerryProcess.Start(args, work.Path, env, redirectStdin: stdin is not null);
            if (stdin is not null)
                await p.WriteStdinAndCloseAsync(stdin);
            await p.WaitForExitAsync();
            return new CliResult(p.ExitCode, p.Stdout, p.Stderr);
        }

        var added = await Ferry(null, "user", "add", "alice", "--allow", "read,write,exec", "--key-file", "alice.key", "--json");
        added.AssertSuccess();
        var user = Assert.Single(added.JsonLines());
        Assert.Equal(("user_added", "alice", "read,write,exec"), (Event(user), user.GetProperty("name").GetString(), user.GetProperty("allow").GetString()));
        var key = user.GetProperty("key").GetString()!;
        Assert.Equal(key, Convert.ToBase64String(Assert.Single(UsersFile.Load(work.Combine("ferry-server", "users.json"))).Key));
        Assert.Equal(key, File.ReadAllText(work.Combine("alice.key")).Trim());
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(work.Combine("alice.key")));

        (await Ferry(null, "user", "add", "bob", "--quota", "1000")).AssertSuccess();
        var list = await Ferry(null, "user", "list", "--json");
        list.AssertSuccess();
        var users = list.JsonLines();
        Assert.Equal(["alice", "bob"], users.Select(u => u.GetProperty("name").GetString()));
        Assert.All(users, u => Assert.False(u.TryGetProperty("key", out _))); // keys are never listed
        Assert.Equal(1000, users[1].GetProperty("quota").GetInt64());

        var duplicate = await Ferry(null, "user", "add", "alice", "--json");
        Assert.Equal(2, duplicate.ExitCode);
        Assert.Equal("usage", Assert.Single(duplicate.JsonLines()).GetProperty("code").GetString());

        await using var server = FerryProcess.Start(["serve", "--listen", "127.0.0.1:0"], work.Path, env);
        var address = await server.WaitForListeningAsync();
        var login = await Ferry(File.ReadAllText(work.Combine("alice.key")), "login", "--server", address, "--user", "alice", "--json");
        login.AssertSuccess();
        var loggedIn = Assert.Single(login.JsonLines());
        Assert.Equal(("login", address, "alice"), (Event(loggedIn), loggedIn.GetProperty("server").GetString(), loggedIn.GetProperty("user").GetString()));
        Assert.True(File.Exists(loggedIn.GetProperty("path").GetString()));

        var wrong = await Ferry(Convert.ToBase64String(new byte[32]), "login", "--server", address, "--user", "bob", "--json");
        Assert.Equal(5, wrong.ExitCode);
        Assert.Equal("authentication_failed", Assert.Single(wrong.JsonLines()).GetProperty("code").GetString());

        var removed = await Ferry(null, "user", "remove", "bob", "--json");
        removed.AssertSuccess();
        Assert.Equal(("user_removed", "bob"), (Event(removed.JsonLines()[0]), removed.JsonLines()[0].GetProperty("name").GetString()));
    }
}
