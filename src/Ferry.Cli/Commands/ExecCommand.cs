using System.CommandLine;
using System.Globalization;
using Ferry.Cli.Terminal;
using Ferry.Client.Exec;

namespace Ferry.Cli.Commands;

/// <summary>
/// <c>ferry exec -- CMD [ARGS...]</c>: one argument runs through the remote /bin/sh -c, several run directly. Output streams
/// back live to this process's stdout and stderr, redirected stdin is forwarded, and the exit code is the remote one.
/// </summary>
internal static class ExecCommand
{
    /// <summary>Exit code of a command stopped at its time limit (as timeout(1) reports it).</summary>
    public const int TimedOut = 124;

    /// <summary>Exit code when this process's output pipe closed (128 + SIGPIPE, as a shell reports a local command).</summary>
    public const int BrokenPipe = 141;

    public static Command Create(CliEnvironment environment)
    {
        var server = CommonOptions.Server();
        var raw = new Option<bool>("--raw")
        {
            Description = "Pass output bytes through untouched, even when the server's output encoding (e.g. gbk on a Chinese Windows server) differs from yours.",
        };
        var cwd = new Option<string?>("--cwd") { Description = "Remote working directory, relative to your home. Default: the home." };
        var timeout = new Option<double?>("--timeout") { Description = "Seconds after which the command and its children are killed (exit 124); the server's own limit still applies." };
        var udp = new Option<bool>("--udp")
        {
            Description = "Send the command over UDP to a server started with --udp-listen (give that address as --server): encrypted, authenticated "
                + "datagrams, lost ones resent, never run twice. No stdin; output arrives when the command ends.",
        };
        var noStdin = new Option<bool>("--no-stdin", "-n") { Description = "Do not forward standard input even when it is redirected (like ssh -n)." };
        var tty = new Option<bool>("--tty", "-t")
        {
            Description = "Run the command on a remote terminal (like ssh -t), for vi, top, less, REPLs and password prompts: this terminal goes to raw "
                + "mode, every key (Ctrl-C too) goes to the remote terminal, window size changes follow, and '~.' after Enter drops the connection.",
        };
        var noTty = new Option<bool>("--no-tty", "-T") { Description = "Never use a remote terminal (the default for exec)." };
        var json = CommonOptions.Json();
        json.Description = "Print the output as JSON objects, one per line on stdout: 'stdout' and 'stderr' pieces (UTF-8 text), then 'exit' with the exit code.";
        var words = new Argument<string[]>("command")
        {
            Description = "The command, after '--'. One argument runs through the remote /bin/sh -c (quote it: \"ls -l; pwd\"); several run the program directly, without a shell.",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("exec", "Run a command on the server. Its output streams back as it is produced, standard input is forwarded when it is "
            + "redirected (not from a terminal), Ctrl-C interrupts it, and ferry exits with its exit code (124 after a timeout, 128+N when signal N killed it). "
            + "With -t it runs on a remote terminal instead, for interactive programs.\n\n"
            + "Examples:\n  ferry exec -- \"ls -l; pwd\"\n  ferry exec -- wc -l notes.txt\n  cat data.csv | ferry exec -- sort -u\n  ferry exec --cwd logs --timeout 30 -- tail -n 100 app.log\n  ferry exec --json -- uname -a\n  ferry exec -t -- vi notes.txt")
        {
            server, raw, cwd, timeout, udp, noStdin, tty, noTty, json, words,
        };
        command.SetAction((parse, ct) => CommonOptions.RunClientAsync(parse, server, async address =>
        {
            var argv = parse.GetValue(words)!;
            var request = argv.Length == 1 ? ExecRequest.ShellLine(argv[0]) : ExecRequest.Command(argv);
            if (parse.GetValue(timeout) is { } seconds)
            {
                if (!(seconds > 0) || double.IsInfinity(seconds))
                    return await CommonOptions.FailAsync(parse, json, ExitCodes.Usage, ExitCodes.ErrorCode(ExitCodes.Usage), "--timeout must be a positive number of seconds.").ConfigureAwait(false);
                request = request with { Timeout = TimeSpan.FromSeconds(Math.Min(seconds, TimeSpan.MaxValue.TotalSeconds / 2)) };
            }
            request = request with { WorkingDirectory = parse.GetValue(cwd) };

            var lines = CommonOptions.JsonOutput(parse, json);
            var onTerminal = parse.GetValue(tty) && !parse.GetValue(noTty);
            if (onTerminal && (parse.GetValue(udp) || parse.GetValue(json)))
                return await CommonOptions.FailAsync(parse, json, ExitCodes.Usage, ExitCodes.ErrorCode(ExitCodes.Usage), "--tty cannot be combined with --udp or --json.").ConfigureAwait(false);
            if (parse.GetValue(udp))
                return await RunOverUdpAsync(parse, address, request, lines, ct).ConfigureAwait(false);

            await using var client = await ClientConnector.ConnectAsync(parse, address, ct).ConfigureAwait(false);
            if (onTerminal)
            {
                var keys = parse.GetValue(noStdin) ? null : environment.RedirectedInput?.Invoke();
                return await new TerminalSession(parse, address.ToString()).RunAsync(client, request, keys, ct).ConfigureAwait(false);
            }
            var (stdout, stderr) = OpenOutput(parse, lines);
            await using var _ = stdout;
            await using var __ = stderr;
            var stdin = parse.GetValue(noStdin) ? null : environment.RedirectedInput?.Invoke();
            ExecResult result;
            try
            {
                result = await client.ExecAsync(request, stdin, stdout, stderr, new ExecOptions { Raw = parse.GetValue(raw) }, ct).ConfigureAwait(false);
            }
            catch (IOException ex) when (CliStreams.IsBrokenPipe(ex))
            {
                return BrokenPipe; // the reader of our output left; the remote command was stopped, as SIGPIPE would have
            }
            await stdout.DisposeAsync().ConfigureAwait(false); // the last partial character before the exit event
            await stderr.DisposeAsync().ConfigureAwait(false);
            return await FinishAsync(parse, request, result.TimedOut, result.ExitCode, lines).ConfigureAwait(false);
        }, json));
        return command;
    }

    /// <summary>Where the remote output goes: this process's stdout and stderr, or JSON lines with --json.</summary>
    private static (Stream Stdout, Stream Stderr) OpenOutput(ParseResult parse, Rendering.JsonLines? lines) => lines is null
        ? (CliStreams.Open(parse.InvocationConfiguration.Output, isError: false), CliStreams.Open(parse.InvocationConfiguration.Error, isError: true))
        : (new Rendering.JsonTextStream(lines, "stdout"), new Rendering.JsonTextStream(lines, "stderr"));

    /// <summary>Reports the end of the command (the exit event with --json, a sentence after a timeout) and returns ferry's exit code.</summary>
    private static async Task<int> FinishAsync(ParseResult parse, ExecRequest request, bool timedOut, int exitCode, Rendering.JsonLines? lines)
    {
        lines?.Write(new Rendering.CommandEvent { Event = "exit", Exit = timedOut ? TimedOut : exitCode, TimedOut = timedOut ? true : null });
        if (!timedOut)
            return exitCode;
        var limit = request.Timeout is { } t ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.###} s") : "the server's limit";
        await parse.InvocationConfiguration.Error.WriteLineAsync($"ferry: the command ran past its time limit ({limit}) and was killed.").ConfigureAwait(false);
        return TimedOut;
    }

    private static async Task<int> RunOverUdpAsync(ParseResult parse, Ferry.Client.ServerAddress address, ExecRequest request, Rendering.JsonLines? lines, CancellationToken ct)
    {
        var credentials = Ferry.Client.Security.CredentialStore.Default.Find(address.ToString(), parse.GetValue(ClientConnector.User))
            ?? Ferry.Client.Security.CredentialStore.Default.FindForHost(address.Host, parse.GetValue(ClientConnector.User))
            ?? throw new Ferry.Protocol.Errors.FerryException(Ferry.Protocol.Errors.FerryErrorCode.AuthenticationRequired,
                $"UDP commands are signed with your key: run 'ferry login --server {address.Host}:TCP-PORT --user NAME' first, or set FERRY_USER and FERRY_KEY.");
        var message = new Ferry.Protocol.Messages.ExecMessage
        {
            Argv = request.Argv,
            Shell = request.Shell,
            WorkingDirectory = request.WorkingDirectory,
            TimeoutSeconds = request.Timeout?.TotalSeconds,
        };
        var result = await Ferry.Client.Udp.UdpExecClient.ExecAsync(address, credentials, message, cancellationToken: ct).ConfigureAwait(false);
        var (stdout, stderr) = OpenOutput(parse, lines);
        await using (stdout)
            await stdout.WriteAsync(result.Stdout, ct).ConfigureAwait(false);
        await using (stderr)
            await stderr.WriteAsync(result.Stderr, ct).ConfigureAwait(false);
        return await FinishAsync(parse, request, result.TimedOut, result.Code, lines).ConfigureAwait(false);
    }
}
