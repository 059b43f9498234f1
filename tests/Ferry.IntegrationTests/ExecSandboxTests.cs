using System.Diagnostics;
using System.Net;
using System.Text;
using Ferry.Client;
using Ferry.Client.Exec;
using Ferry.Client.Security;
using Ferry.Client.Udp;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Testing;
using static Ferry.IntegrationTests.ExecProtocolTests;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary>
/// A real <c>ferry serve --allow-exec</c> process with logins and TLS, run as root as in CI: three users, a secret in
/// the server's environment and resource limits from FERRY_ variables. Shared by the tests of <see cref="ExecSandboxTests"/>.
/// </summary>
public sealed class SandboxedServer : IAsyncLifetime
{
    public const string EnvironmentSecret = "sandbox-test-secret-4f1d2c";
    public static readonly byte[] AliceKey = Handshake.NewKey();
    public static readonly byte[] BobKey = Handshake.NewKey();
    public static readonly byte[] CarolKey = Handshake.NewKey();

    public TempDirectory Root { get; } = new("ferry-sandbox-root");
    public TempDirectory State { get; } = new("ferry-sandbox-state");
    public TempDirectory Client { get; } = new("ferry-sandbox-client");
    public FerryProcess Server { get; private set; } = null!;
    public ServerAddress Address { get; private set; }

    public async Task InitializeAsync()
    {
        UsersFile.Save(Path.Combine(State.Path, "users.json"),
        [
            new UserAccount { Name = "alice", Key = AliceKey, Permissions = Permissions.All },
            new UserAccount { Name = "bob", Key = BobKey, Permissions = Permissions.All },
            new UserAccount { Name = "carol", Key = CarolKey, Permissions = Permissions.All, OsUser = "nobody" },
        ]);
        // Readable by everyone on disk: only the sandbox can keep a command from reading them.
        Directory.CreateDirectory(Root.Combine("bob"));
        await File.WriteAllTextAsync(Root.Combine("bob", "secret.txt"), "bob's secret\n");
        await File.WriteAllTextAsync(Root.Combine("in-the-root.txt"), "not in any home\n");
        Server = FerryProcess.Start(["serve", "--listen", "127.0.0.1:0", "--root", Root.Path, "--state-dir", State.Path, "--allow-exec"],
            environment: new Dictionary<string, string>
            {
                ["SANDBOX_TEST_SECRET"] = EnvironmentSecret,
                ["FERRY_EXEC_LIMITS__OPEN_FILES"] = "321",
                ["FERRY_EXEC_LIMITS__PROCESSES"] = "222",
                ["FERRY_EXEC_LIMITS__CPU_SECONDS"] = "111",
            });
        // On a machine loaded many times over, a server that starts a trial sandbox may need more than one wait.
        string? listening = null;
        for (var attempt = 0; listening is null; attempt++)
        {
            try
            {
                listening = await Server.WaitForListeningAsync();
            }
            catch (TimeoutException) when (attempt < 3 && !Server.HasExited)
            {
            }
        }
        var endPoint = IPEndPoint.Parse(listening);
        Address = new ServerAddress(endPoint.Address.ToString(), endPoint.Port);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Root.Dispose();
        State.Dispose();
        Client.Dispose();
    }

    /// <summary>Runs a shell line as <paramref name="user"/>: exit code, stdout and stderr.</summary>
    public async Task<(int Code, string Stdout, string Stderr)> RunAsync(string user, byte[] key, string line)
    {
        await using var client = await FerryClient.ConnectAsync(Address, new FerryClientOptions
        {
            UseTls = true,
            Credentials = new ClientCredentials(user, key),
            TrustStore = new KnownServers(Client.Combine("known_servers")),
        }, TestTimeouts.Token());
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        var result = await client.ExecAsync(ExecRequest.ShellLine(line), null, stdout, stderr, cancellationToken: TestTimeouts.Token());
        return (result.ExitCode, Encoding.UTF8.GetString(stdout.ToArray()), Encoding.UTF8.GetString(stderr.ToArray()));
    }

    public Task<(int Code, string Stdout, string Stderr)> AliceAsync(string line) => RunAsync("alice", AliceKey, line);
}

/// <summary>What a remote command can and cannot see and do (docs/security.md, "Remote commands"): one test per claim.</summary>
public class ExecSandboxTests(SandboxedServer sandboxed) : IClassFixture<SandboxedServer>
{
    private static string Marker() => $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000)}";

    [Fact]
    public async Task A_command_cannot_see_the_users_file_or_the_state_folder()
    {
        var usersFile = Path.Combine(sandboxed.State.Path, "users.json");
        Assert.True(File.Exists(usersFile));
        var run = await sandboxed.AliceAsync($"cat '{usersFile}'; ls '{sandboxed.State.Path}'");
        Assert.Equal("", run.Stdout);
        Assert.Contains("No such file or directory", run.Stderr); // not there at all, rather than merely unreadable
        Assert.DoesNotContain(Convert.ToBase64String(SandboxedServer.AliceKey), run.Stdout + run.Stderr);
    }

    [Fact]
    public async Task A_command_cannot_read_the_tls_key()
    {
        var key = Path.Combine(sandboxed.State.Path, "tls.pfx");
        Assert.True(File.Exists(key));
        var run = await sandboxed.AliceAsync($"wc -c < '{key}'");
        Assert.NotEqual(0, run.Code);
        Assert.Equal("", run.Stdout);
        Assert.Contains("No such file", run.Stderr);
    }

    [Fact]
    public async Task A_command_cannot_see_another_home_or_the_rest_of_the_data_root()
    {
        var run = await sandboxed.AliceAsync($"cat '{sandboxed.Root.Combine("bob", "secret.txt")}'; cat '{sandboxed.Root.Combine("in-the-root.txt")}'; ls -A '{sandboxed.Root.Path}'");
        Assert.DoesNotContain("secret", run.Stdout);
        Assert.DoesNotContain("not in any home", run.Stdout);
        Assert.Equal("alice\n", run.Stdout); // the data root shows nothing but the way to the user's own home
        Assert.True(File.Exists(sandboxed.Root.Combine("bob", "secret.txt")));
    }

    [Fact]
    public async Task A_command_cannot_see_the_server_environment_or_its_processes()
    {
        var run = await sandboxed.AliceAsync(
            "env; cat /proc/[0-9]*/environ | tr '\\0' '\\n'; cat /proc/[0-9]*/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'");
        Assert.Equal(0, run.Code);
        Assert.DoesNotContain(SandboxedServer.EnvironmentSecret, run.Stdout);
        Assert.DoesNotContain("SANDBOX_TEST_SECRET", run.Stdout);
        Assert.DoesNotContain("ferry.dll", run.Stdout);
        Assert.DoesNotContain(sandboxed.State.Path, run.Stdout);
        // Only the sandbox's own processes: its init, the shell and what the shell runs.
        Assert.InRange(int.Parse(run.Stdout.Trim().Split('\n')[^1], System.Globalization.CultureInfo.InvariantCulture), 1, 8);
        Assert.True(File.Exists($"/proc/{sandboxed.Server.Id}/environ"));
    }

    [Fact]
    public async Task A_command_cannot_read_the_password_hashes_or_ssh_host_keys()
    {
        var run = await sandboxed.AliceAsync("cat /etc/shadow /etc/gshadow; cat /etc/ssh/ssh_host_*key* 2>/dev/null; head -c 5 /etc/passwd");
        Assert.Equal("root:", run.Stdout); // /etc itself is there, the secrets are empty
    }

    [Fact]
    public async Task A_command_can_write_its_home_and_read_the_system_but_write_nothing_else()
    {
        var home = sandboxed.Root.Combine("alice");
        var run = await sandboxed.AliceAsync(
            "pwd; echo made > note.txt && cat note.txt; test -r /usr/bin/env && echo can-read-usr; touch /usr/x /etc/x /x 2>/dev/null || echo cannot-write-system; echo tmp > /tmp/t && cat /tmp/t");
        Assert.Equal($"{home}\nmade\ncan-read-usr\ncannot-write-system\ntmp\n", run.Stdout);
        Assert.Equal("made\n", await File.ReadAllTextAsync(Path.Combine(home, "note.txt")));
    }

    [Fact]
    public async Task A_command_runs_as_the_exec_account_or_the_users_os_user_never_as_root()
    {
        var execAccount = await ToolOutputAsync("id", "-u", "ferry-exec");
        var alice = await sandboxed.AliceAsync("id -u; id -G");
        Assert.Equal($"{execAccount}\n", alice.Stdout.Split('\n')[0] + "\n");
        Assert.DoesNotContain(" 0", " " + alice.Stdout.Split('\n')[1]);
        var carol = await sandboxed.RunAsync("carol", SandboxedServer.CarolKey, "id -un; echo mine > f && stat -c %U f");
        Assert.Equal("nobody\nnobody\n", carol.Stdout);
        // The home the server made for carol, and what it puts there, belong to her account.
        Assert.Equal("nobody", await ToolOutputAsync("stat", "-c", "%U", sandboxed.Root.Combine("carol")));
        Assert.Equal("ferry-exec", await ToolOutputAsync("stat", "-c", "%U", sandboxed.Root.Combine("alice")));
    }

    [Fact]
    public async Task Resource_limits_from_the_settings_apply()
    {
        var run = await sandboxed.AliceAsync("ulimit -n; ulimit -p; ulimit -t");
        Assert.Equal("321\n222\n111\n", run.Stdout);
    }

    [Fact]
    public async Task No_descendant_outlives_its_command_even_in_a_session_of_its_own()
    {
        var marker = Marker();
        await using var server = await TestServer.StartAsync(o => o with { AllowExec = true });
        await using var raw = await HelloAsync(server);
        var result = await ExecAsync(raw, new
        {
            cmd = "exec", id = 1,
            shell = $"setsid sleep {marker} & nohup sleep {marker} >/dev/null 2>&1 & (sleep {marker} &); echo started",
        });
        Assert.Equal("started\n", result.Stdout);
        await AssertNoProcessWithAsync(marker);
    }

    [Fact]
    public async Task No_descendant_outlives_the_timeout()
    {
        var marker = Marker();
        await using var server = await TestServer.StartAsync(o => o with { AllowExec = true });
        await using var raw = await HelloAsync(server);
        var result = await ExecAsync(raw, new { cmd = "exec", id = 1, shell = $"setsid sleep {marker} & (nohup sleep {marker} &); sleep {marker}", timeout = 1 });
        Assert.True(result.Exit.GetProperty("timed_out").GetBoolean());
        await AssertNoProcessWithAsync(marker);
    }

    [Fact]
    public async Task No_descendant_outlives_a_dropped_connection()
    {
        var marker = Marker();
        await using var server = await TestServer.StartAsync(o => o with { AllowExec = true });
        await using (var raw = await HelloAsync(server))
        {
            await raw.SendAsync(Json(new { cmd = "exec", id = 1, shell = $"setsid sleep {marker} & sleep {marker}" }));
            Assert.Equal("exec_started", (await raw.ReadAsync())!.Command);
            await HostTests.WaitUntilAsync(() => ProcessesWith(marker).Count == 2);
        }
        await AssertNoProcessWithAsync(marker);
    }

    [Theory]
    [InlineData("-0.001")]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("1e300")]
    public async Task A_timeout_that_is_not_a_positive_finite_number_is_refused_before_anything_starts(string timeout)
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowExec = true, ExecTimeout = TimeSpan.FromMinutes(1) });
        await using var raw = await HelloAsync(server);
        await raw.SendAsync(FrameBytes.Frame($$"""{"cmd":"exec","id":1,"shell":"touch started","timeout":{{timeout}}}""", default));
        Assert.Equal(("field_invalid", false), await raw.ReadErrorAsync());
        Assert.False(File.Exists(Path.Combine(server.Root, "started")));
        // The connection stays usable, and a timeout above the server's maximum is lowered to it.
        var result = await ExecAsync(raw, new { cmd = "exec", id = 2, shell = "echo ok", timeout = 1e6 });
        Assert.Equal("ok\n", result.Stdout);
    }

    [Fact]
    public async Task A_udp_timeout_that_is_not_positive_is_refused_before_anything_starts()
    {
        var key = Handshake.NewKey();
        await using var server = await UdpTestServer.StartAsync([UdpTestServer.User("ops", key)]);
        var error = await Assert.ThrowsAsync<FerryRemoteException>(() => server.UdpExecAsync(new ClientCredentials("ops", key),
            new ExecMessage { Shell = "touch started", TimeoutSeconds = -0.001 }));
        Assert.Equal(FerryErrorCode.FieldInvalid, error.Code);
        Assert.False(File.Exists(Path.Combine(server.Root, "ops", "started")));
    }

    [Fact]
    public async Task The_shell_runs_its_commands_in_the_same_sandbox()
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowExec = true });
        var run = await FerryRun.RunAsync(["shell", "--plain", "--server", server.Address.ToString()],
            Encoding.UTF8.GetBytes("cat /proc/1/comm\nls /proc | grep -c '^[0-9]'\nquit\n"));
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("bwrap\n", run.Stdout); // the PID namespace's init, not the machine's
    }

    [Fact]
    public async Task Without_a_working_sandbox_allow_exec_refuses_to_start()
    {
        using var root = new TempDirectory("ferry-sandbox-root");
        using var state = new TempDirectory("ferry-sandbox-state");
        var run = await FerryProcess.RunAsync("serve", "--listen", "127.0.0.1:0", "--root", root.Path, "--state-dir", state.Path, "--insecure-no-auth",
            "--allow-exec", "--exec-sandbox", "/nonexistent/bwrap");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("commands cannot be confined", run.Stderr);
        Assert.Contains("--exec-unconfined", run.Stderr);
        Assert.DoesNotContain("Listening", run.Stdout);
    }

    [Fact]
    public async Task As_root_allow_exec_refuses_to_start_without_the_exec_account()
    {
        using var root = new TempDirectory("ferry-sandbox-root");
        using var state = new TempDirectory("ferry-sandbox-state");
        await using var server = FerryProcess.Start(["serve", "--listen", "127.0.0.1:0", "--root", root.Path, "--state-dir", state.Path, "--insecure-no-auth", "--allow-exec"],
            environment: new Dictionary<string, string> { ["FERRY_EXEC_USER"] = "ferry-no-such-account" });
        await server.WaitForExitAsync();
        Assert.Equal(2, server.ExitCode);
        Assert.Contains("useradd --system", server.Stderr);
    }

    [Fact]
    public async Task A_state_folder_inside_the_data_root_is_refused_with_allow_exec()
    {
        using var root = new TempDirectory("ferry-sandbox-root");
        var run = await FerryProcess.RunAsync("serve", "--listen", "127.0.0.1:0", "--root", root.Path, "--state-dir", root.Combine("state"), "--insecure-no-auth",
            "--allow-exec");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("lies inside the data root", run.Stderr);
    }

    [Fact]
    public async Task A_home_below_a_folder_the_exec_account_cannot_search_still_works()
    {
        // Like a walkthrough in root's own 0700 home: the root server reaches the home, the command sees only the home.
        using var parent = new TempDirectory("ferry-sandbox-private");
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(parent.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using var state = new TempDirectory("ferry-sandbox-state");
        var root = parent.Combine("data");
        await using var server = await ServerProcess.StartAsync(root, state.Path, "--allow-exec");
        var run = await FerryRun.RunAsync(["exec", "--plain", "--server", server.Address, "--",
            "pwd; cd \"$HOME\" && echo made > note.txt && cat note.txt; ls -A \"$(dirname \"$HOME\")\""]);
        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        Assert.Equal($"{Path.GetFullPath(root)}\nmade\n{Path.GetFileName(root)}\n", run.Stdout); // the parent holds nothing else
        Assert.Equal("made\n", await File.ReadAllTextAsync(Path.Combine(root, "note.txt")));
    }

    [Fact]
    public async Task Exec_unconfined_runs_as_the_server_and_warns_at_start_and_for_every_command()
    {
        using var root = new TempDirectory("ferry-sandbox-root");
        using var state = new TempDirectory("ferry-sandbox-state");
        await using var server = await ServerProcess.StartAsync(root.Path, state.Path, "--allow-exec", "--exec-unconfined", "--exec-sandbox", "/nonexistent/bwrap");
        var run = await FerryRun.RunAsync(["exec", "--plain", "--server", server.Address, "--", "id -u; cat /proc/1/comm"]);
        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith("0\n", run.Stdout); // the server's own account: root here
        Assert.DoesNotContain("bwrap", run.Stdout);
        await server.Process.WaitForOutputAsync("Unconfined command");
        Assert.Contains("UNCONFINED", server.Process.Stdout + server.Process.Stderr);
    }

    private static async Task<string> ToolOutputAsync(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output.Trim();
    }
}
