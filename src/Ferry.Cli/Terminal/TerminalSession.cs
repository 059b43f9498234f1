using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;
using Ferry.Client;
using Ferry.Client.Exec;

namespace Ferry.Cli.Terminal;

/// <summary>
/// A remote command on a remote terminal, seen through this one (<c>ferry exec -t</c>, <c>ferry shell</c>): the local
/// terminal in raw mode for as long as it runs and put back on every way out (the end, a remote kill, a lost connection,
/// '~.', SIGTERM, SIGHUP, SIGQUIT, SIGINT), the window's size sent again on SIGWINCH, keys with the escapes of
/// <see cref="EscapeInputStream"/> taken out, and the exit told as the remote command ended (128 + N for signal N).
/// </summary>
internal sealed class TerminalSession(ParseResult parse, string server, Func<string, CancellationToken, Task>? localCommand = null)
{
    private readonly TextWriter _error = parse.InvocationConfiguration.Error;
    private readonly Func<string, CancellationToken, Task>? _localCommand = localCommand;
    private LocalTerminal? _terminal;
    private volatile bool _dropped;

    /// <summary>Runs <paramref name="request"/> on a terminal the size of this one; returns ferry's exit code.</summary>
    public async Task<int> RunAsync(FerryClient client, ExecRequest request, Stream? redirectedInput, CancellationToken cancellationToken)
    {
        var window = LocalTerminal.CurrentWindow() ?? new TerminalWindow(80, 24);
        request = request with { Terminal = new RemoteTerminal { Term = LocalTerm(), Window = window } };
        var windows = Channel.CreateUnbounded<TerminalWindow>(new UnboundedChannelOptions { SingleReader = true });
        var registrations = new List<PosixSignalRegistration>();
        var stdout = CliStreams.Open(parse.InvocationConfiguration.Output, isError: false);
        try
        {
            if (!OperatingSystem.IsWindows())
            {
                registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGWINCH, _ =>
                {
                    if (LocalTerminal.CurrentWindow() is { } now)
                        windows.Writer.TryWrite(now);
                }));
                // Whatever else happens on these, the terminal is put back first.
                foreach (var signal in (ReadOnlySpan<PosixSignal>)[PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT, PosixSignal.SIGINT])
                    registrations.Add(PosixSignalRegistration.Create(signal, _ => _terminal?.Restore()));
            }
            _terminal = LocalTerminal.EnterRawMode();
            Stream? input = _terminal is not null ? new EscapeInputStream(new TerminalInputStream(), new Escapes(this, client)) : redirectedInput;
            ExecResult result;
            try
            {
                result = await client.ExecAsync(request, input, stdout, stdout, new ExecOptions { WindowChanges = windows.Reader }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (_dropped)
            {
                _terminal?.Restore();
                await _error.WriteLineAsync($"ferry: connection to {server} dropped (~.).").ConfigureAwait(false);
                return ExitCodes.Disconnected;
            }
            finally
            {
                _terminal?.Restore();
            }
            if (result.TimedOut)
                await _error.WriteLineAsync("ferry: the command ran past its time limit and was killed.").ConfigureAwait(false);
            else if (result.Signal is { } name)
                await _error.WriteLineAsync($"ferry: the remote command was killed by signal {name}{(result.CoreDumped ? " (core dumped)" : "")}.").ConfigureAwait(false);
            return result.ExitCode;
        }
        finally
        {
            _terminal?.Restore();
            foreach (var registration in registrations)
                registration.Dispose();
            windows.Writer.TryComplete();
            await stdout.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>This terminal's TERM when it is a plain terminal name (the server refuses anything else), else the server's default.</summary>
    private static string? LocalTerm()
    {
        var term = Environment.GetEnvironmentVariable("TERM");
        return term is { Length: > 0 and <= 64 } && term.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '+' or '-') ? term : null;
    }

    private sealed class Escapes(TerminalSession session, FerryClient client) : EscapeActions
    {
        public override bool HasLocalCommands => session._localCommand is not null;

        public override void Drop()
        {
            session._dropped = true;
            session._terminal?.Restore();
            client.Abort();
        }

        public override async Task HelpAsync()
        {
            var help = new StringBuilder("\r\nSupported escapes (after Enter):\r\n  ~.  drop the connection\r\n");
            if (HasLocalCommands)
                help.Append("  ~:  one local command (put, get, lcd, lpwd, help...)\r\n");
            help.Append("  ~~  send one ~\r\n  ~?  this list\r\n");
            await session._error.WriteAsync(help.ToString()).ConfigureAwait(false);
            await session._error.FlushAsync().ConfigureAwait(false);
        }

        public override async Task LocalCommandAsync(CancellationToken cancellationToken)
        {
            var terminal = session._terminal;
            terminal?.Restore();
            try
            {
                await session._error.WriteAsync("\r\nferry> ").ConfigureAwait(false);
                await session._error.FlushAsync(cancellationToken).ConfigureAwait(false);
                // The terminal's own line editing (erase, kill) while it is back in its usual mode.
                var line = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
                if (line.Trim().Length > 0)
                    await session._localCommand!(line.Trim(), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                terminal?.Raw();
            }
        }

        private static async Task<string> ReadLineAsync(CancellationToken cancellationToken)
        {
            using var keys = new TerminalInputStream();
            var bytes = new List<byte>();
            var one = new byte[1];
            while (await keys.ReadAsync(one, cancellationToken).ConfigureAwait(false) == 1 && one[0] != (byte)'\n')
                bytes.Add(one[0]);
            return Encoding.UTF8.GetString(bytes.ToArray());
        }
    }
}
