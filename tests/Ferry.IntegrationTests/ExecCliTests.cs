using System.Diagnostics;
using System.Text;
using Ferry.Protocol.Auth;
using Ferry.Server.Auth;
using Ferry.Testing;
using static Ferry.IntegrationTests.ExecProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary><c>ferry exec</c> as a user runs it: the real executable, a real server, real processes.</summary>
public class ExecCliTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await TestServer.StartAsync(o => o with { AllowExec = true, ExecTimeout = TimeSpan.FromMinutes(1) });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private string[] Exec(params string[] command) => ["exec", "--plain", "--server", _server.Address.ToString(), .. command];

    [Fact]
    public async Task Output_comes_back_and_ferry_exits_with_the_remote_code()
    {
        var run = await FerryRun.RunAsync(Exec("--", "echo 中文; exit 3"));
        Assert.Equal("中文\n", run.Stdout);
        Assert.Equal(3, run.ExitCode);
        Assert.Equal("", run.Stderr);

        var both = await FerryRun.RunAsync(Exec("--", "echo out; echo err >&2"));
        Assert.Equal("out\n", both.Stdout);
        Assert.Equal("err\n", both.Stderr);
        Assert.Equal(0, both.ExitCode);
    }

    [Fact]
    public async Task Piped_stdin_is_forwarded_and_several_words_run_without_a_shell()
    {
        var counted = await FerryRun.RunAsync(Exec("--", "wc", "-l"), stdin: "a\nb\nc\n"u8.ToArray());
        Assert.Equal("3", counted.Stdout.Trim());
        Assert.Equal(0, counted.ExitCode);

        var literal = await FerryRun.RunAsync(Exec("--", "echo", "$HOME;", "@file", "*"));
        Assert.Equal("$HOME; @file *\n", literal.Stdout);
        var shell = await FerryRun.RunAsync(Exec("--", "echo $FERRY"));
        Assert.Equal("1\n", shell.Stdout);
        var ignored = await FerryRun.RunAsync(Exec("--no-stdin", "--", "wc", "-c"), stdin: "not sent"u8.ToArray());
        Assert.Equal("0", ignored.Stdout.Trim());
    }

    [Fact]
    public async Task Bytes_reach_stdout_untouched_with_or_without_raw()
    {
        // 中文 in GBK. The server declares utf-8 like this client, so nothing is converted; --raw never converts.
        byte[] gbk = [0xD6, 0xD0, 0xCE, 0xC4];
        var plain = await FerryRun.RunAsync(Exec("--", @"printf '\326\320\316\304'"));
        Assert.Equal(gbk, plain.StdoutBytes);
        var raw = await FerryRun.RunAsync(Exec("--raw", "--", @"printf '\326\320\316\304'"));
        Assert.Equal(gbk, raw.StdoutBytes);
        Assert.Equal(0, raw.ExitCode);
    }

    [Fact]
    public async Task A_timeout_kills_the_command_and_exits_124_with_a_message()
    {
        var marker = ExecClientTests.Marker();
        var run = await FerryRun.RunAsync(Exec("--timeout", "0.5", "--", $"sleep {marker}"));
        Assert.Equal(124, run.ExitCode);
        Assert.Contains("time limit (0.5 s)", run.Stderr);
        await AssertNoProcessWithAsync(marker);
    }

    [Fact]
    public async Task Ctrl_c_interrupts_the_remote_command_and_exits_130()
    {
        var marker = ExecClientTests.Marker();
        await using var ferry = FerryRun.Start(Exec("--", $"echo started; sleep {marker}"));
        await HostTests.WaitUntilAsync(() => FerryRun.RemoteProcessesWith(marker).Count == 1);
        var watch = Stopwatch.StartNew();
        ferry.Signal("INT");
        var run = await ferry.FinishAsync();
        Assert.Equal(130, run.ExitCode);
        Assert.Equal("started\n", run.Stdout);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}"); // the command alone would sleep for days
        await AssertNoProcessWithAsync(marker);
    }

    [Fact]
    public async Task A_closed_output_pipe_stops_the_remote_command_like_sigpipe()
    {
        var marker = ExecClientTests.Marker();
        // No wait for the remote 'yes' to be seen running: the client may take its SIGPIPE and the server stop the command
        // between two looks. The exit code says the command ran and wrote, and no process may be left.
        await using var ferry = FerryRun.Start(Exec("--", "yes", marker), keepStdout: false);
        var run = await ferry.FinishAsync();
        Assert.Equal(141, run.ExitCode); // 128 + SIGPIPE, silently, as 'yes | head' would
        Assert.Equal("", run.Stderr);
        await AssertNoProcessWithAsync(marker);
    }

    [Fact]
    public async Task Refusals_print_one_sentence_and_exit_10()
    {
        await using (var disabled = await TestServer.StartAsync())
        {
            var run = await FerryRun.RunAsync(["exec", "--plain", "--server", disabled.Address.ToString(), "--", "true"]);
            Assert.Equal(10, run.ExitCode);
            Assert.Equal("ferry: This server does not run commands; its administrator can enable it with --allow-exec. (exec_disabled)\n", run.Stderr);
        }

        var readerKey = Handshake.NewKey();
        await using var secured = await TestServer.StartAsync(o =>
        {
            var options = o with { AllowExec = true, RequireAuthentication = true, UseTls = false };
            Directory.CreateDirectory(options.StateDirectory);
            UsersFile.Save(options.EffectiveUsersFile, [new UserAccount { Name = "reader", Key = readerKey, Permissions = Permissions.Read }]);
            return options;
        });
        using var config = new TempDirectory("ferry-client-config");
        var environment = new Dictionary<string, string>
        {
            ["FERRY_CONFIG_DIR"] = config.Path,
            ["FERRY_USER"] = "reader",
            ["FERRY_KEY"] = Convert.ToBase64String(readerKey),
        };
        var denied = await FerryRun.RunAsync(["exec", "--plain", "--server", secured.Address.ToString(), "--", "true"], environment: environment);
        Assert.Equal(10, denied.ExitCode);
        Assert.Equal("ferry: User 'reader' lacks the exec permission that 'exec' needs. (permission_denied)\n", denied.Stderr);
        Assert.Equal("", denied.Stdout);
    }

    [Fact]
    public async Task In_process_output_goes_through_the_invocations_writers()
    {
        var result = await Cli.RunAsync("exec", "--plain", "--server", _server.Address.ToString(), "--", "echo 中文; echo 错 >&2; exit 4");
        Assert.Equal(4, result.ExitCode);
        Assert.Equal("中文\n", result.Stdout);
        Assert.Equal("错\n", result.Stderr);
        Assert.Equal(2, (await Cli.RunAsync("exec", "--plain", "--server", _server.Address.ToString())).ExitCode);
        Assert.Equal(2, (await Cli.RunAsync("exec", "--plain", "--server", _server.Address.ToString(), "--timeout", "-1", "--", "true")).ExitCode);
    }
}

/// <summary>
/// The real ferry executable with stdin under the test's control (bytes, or kept open to be written line by line) and
/// stdout captured as bytes, so that encodings and closed pipes can be checked.
/// </summary>
internal sealed class FerryRun : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Task<byte[]> _stdout;
    private readonly Task<string> _stderr;

    private FerryRun(Process process, bool keepStdout)
    {
        _process = process;
        _stderr = process.StandardError.ReadToEndAsync();
        _stdout = keepStdout ? ReadAllAsync(process.StandardOutput.BaseStream) : ReadSomeThenCloseAsync(process.StandardOutput.BaseStream);
    }

    internal sealed record Result(int ExitCode, byte[] StdoutBytes, string Stderr)
    {
        public string Stdout => Encoding.UTF8.GetString(StdoutBytes);
    }

    /// <summary>
    /// Starts ferry with stdin redirected (a pipe the test writes to). With <paramref name="keepStdout"/> false, stdout is
    /// read a little and then closed, as 'head' does.
    /// </summary>
    public static FerryRun Start(IEnumerable<string> args, IDictionary<string, string>? environment = null, string? workingDirectory = null, bool keepStdout = true)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
            StandardErrorEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(FerryProcess.FerryDll);
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["FERRY_CONFIG_DIR"] = Path.Combine(Path.GetTempPath(), "ferry-test-config-unused");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            info.Environment[name] = value;
        return new FerryRun(Process.Start(info)!, keepStdout);
    }

    /// <summary>Runs ferry with <paramref name="stdin"/> as its whole input (none: an empty pipe) and waits for it.</summary>
    public static async Task<Result> RunAsync(IEnumerable<string> args, byte[]? stdin = null, IDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        await using var run = Start(args, environment, workingDirectory);
        if (stdin is not null)
            await run._process.StandardInput.BaseStream.WriteAsync(stdin);
        run._process.StandardInput.Close();
        return await run.FinishAsync();
    }

    public async Task WriteLineAsync(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line + "\n");
        await _process.StandardInput.BaseStream.WriteAsync(bytes);
        await _process.StandardInput.BaseStream.FlushAsync();
    }

    public void CloseStdin() => _process.StandardInput.Close();

    /// <summary>Processes with <paramref name="marker"/> in their command line other than shells and ferry itself (whose arguments carry it too).</summary>
    public static List<int> RemoteProcessesWith(string marker) => ProcessesWith(marker)
        .Where(pid =>
        {
            try
            {
                return !File.ReadAllText($"/proc/{pid}/cmdline").Contains("ferry.dll", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
        })
        .ToList();

    public void Signal(string name)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + name, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
    }

    public async Task<Result> FinishAsync()
    {
        await _process.WaitForExitAsync(TestTimeouts.Token());
        return new Result(_process.ExitCode, await _stdout, await _stderr);
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    private static async Task<byte[]> ReadSomeThenCloseAsync(Stream stream)
    {
        var buffer = new byte[16];
        var n = await stream.ReadAsync(buffer);
        stream.Dispose();
        return buffer[..n];
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            await _process.WaitForExitAsync(CancellationToken.None);
        }
        _process.Dispose();
    }
}
