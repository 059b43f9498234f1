using System.ComponentModel;
using System.Diagnostics;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Server.Diagnostics;
using Ferry.Server.Hosting;
using Ferry.Server.Storage;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Exec;

/// <summary>
/// Checks, starts and runs every command the server runs (TCP exec, each line of the shell, UDP exec), so that one set of
/// rules applies whatever the transport: the checks of a request, confinement, the account switch and the environment
/// (in the sandbox of <see cref="CommandSandbox"/> unless the administrator chose
/// <see cref="FerryServerOptions.ExecUnconfined"/>, which is logged as a warning for every command), and then the run
/// itself (<see cref="CommandRun"/>): output cap and marker, time limit, kill of the whole process group, drain, and the
/// exit as the client is told it. A transport only moves bytes: an <see cref="ICommandOutputSink"/> for the output, an
/// <see cref="ICommandInput"/> for what its client sends while the command runs.
/// </summary>
public sealed class CommandRunner(FerryServerOptions options, CommandSandbox sandbox, FerryMetrics metrics, ILogger<CommandRunner> logger)
{
    /// <summary>How long a command on a terminal has, after the hang-up at the server's stop, before it is killed.</summary>
    public static readonly TimeSpan HangUpGrace = TimeSpan.FromSeconds(2);

    private readonly TaskCompletionSource _stopping = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A requested time limit longer than this (about ten years) is not a time limit but a mistake or an attack.</summary>
    public const double MaxRequestedTimeoutSeconds = 10 * 365.25 * 24 * 3600;

    /// <summary>
    /// Checks a request before anything starts or is acknowledged, in the same order for every transport: the server runs
    /// commands (exec_disabled), the user may (permission_denied), argv or shell is well formed, the time limit is a
    /// positive number of seconds and a terminal (only where the client can type and resize) is well formed (field_invalid).
    /// </summary>
    /// <exception cref="FerryException">The request is refused; nothing has run.</exception>
    internal CommandRequest Prepare(ExecMessage message, UserAccount? user, CommandTransport transport, long maxOutputBytes, ICommandInput? input = null)
    {
        if (!options.AllowExec)
            throw new FerryException(FerryErrorCode.ExecDisabled, "This server does not run commands; its administrator can enable it with --allow-exec.");
        if (user is not null && !user.Allows(Permissions.Exec))
            throw new FerryException(FerryErrorCode.PermissionDenied, $"User '{user.Name}' lacks the exec permission.");
        if (message.Terminal is not null && input is null)
            throw new FerryException(FerryErrorCode.FieldInvalid, "A command on a terminal needs a conversation (exec over TCP); UDP commands have no terminal.");
        return new CommandRequest
        {
            User = user,
            Argv = CommandEnvironment.ArgvOf(message),
            WorkingDirectory = message.WorkingDirectory,
            TimeLimit = TimeLimit(message.TimeoutSeconds, options.ExecTimeout),
            MaxOutputBytes = maxOutputBytes,
            Transport = transport,
            Input = input,
            Terminal = message.Terminal is { } terminal ? TerminalRequest.From(terminal) : null,
        };
    }

    /// <summary>
    /// Runs <paramref name="request"/> in <paramref name="store"/>'s home and returns how it ended, after the outcome went
    /// to <paramref name="sink"/> and the client's input (if any) ended.
    /// </summary>
    /// <exception cref="FerryException">Nothing ran: exec_failed (cannot be started), not_found (no such working directory), path_escapes_root.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired; the command was killed.</exception>
    internal async Task<CommandOutcome> RunAsync(CommandRequest request, IFileStore store, ICommandOutputSink sink, CancellationToken cancellationToken)
    {
        var folders = store as ILocalFolderStore
            ?? throw new FerryException(FerryErrorCode.ExecFailed, "This server keeps its files in a store without local folders; commands cannot run here.");
        var home = folders.LocalFolder("");
        var cwd = folders.LocalFolder(RemotePath.Normalize(request.WorkingDirectory ?? ""));
        if (!Directory.Exists(cwd))
            throw new FerryException(FerryErrorCode.NotFound, $"The working directory '{request.WorkingDirectory}' does not exist.");

        using var group = Start(request.User, home, cwd, request.Argv, request.Terminal);
        var udp = request.Transport == CommandTransport.Udp;
        metrics.ExecStarted(udp);
        var started = Stopwatch.GetTimestamp();
        var completed = false;
        using var runEnded = new CancellationTokenSource();
        var hangUp = group.Terminal is null ? Task.CompletedTask : HangUpAtStopAsync(group, request, runEnded.Token);
        try
        {
            var outcome = await new CommandRun(group, request, sink).RunAsync(cancellationToken).ConfigureAwait(false);
            completed = true;
            return outcome;
        }
        finally
        {
            metrics.ExecEnded(udp, Stopwatch.GetElapsedTime(started), completed);
            await runEnded.CancelAsync().ConfigureAwait(false);
            await hangUp.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// Hangs up every command running on a terminal (docs/protocol.md §6.4), as the end of the connection its terminal
    /// lives on would: SIGHUP to the terminal's process groups now, SIGKILL to what is left after <see cref="HangUpGrace"/>.
    /// Called once when the server stops. A terminal's command is interactive, so waiting for it to finish on its own
    /// (as for other commands in flight) would only hold the stop up until the end of the grace period.
    /// </summary>
    internal void HangUpTerminals() => _stopping.TrySetResult();

    private async Task HangUpAtStopAsync(ProcessGroup group, CommandRequest request, CancellationToken runEnded)
    {
        var exited = group.WaitForExitAsync(CancellationToken.None);
        await Task.WhenAny(_stopping.Task, exited).WaitAsync(runEnded).ConfigureAwait(false);
        if (exited.IsCompleted)
            return;
        group.HangUp();
        var user = request.User?.Name ?? "-";
        ExecLog.TerminalHungUp(logger, user, request.Argv[0], group.Id);
        try
        {
            await exited.WaitAsync(HangUpGrace, runEnded).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            group.KillTree();
            ExecLog.TerminalKilledAfterHangUp(logger, user, request.Argv[0], group.Id);
        }
    }

    /// <summary>Starts <paramref name="argv"/> for <paramref name="user"/> (null without logins) in <paramref name="cwd"/>, inside <paramref name="home"/>.</summary>
    /// <exception cref="FerryException">exec_failed: the program cannot be found or started, or the user cannot run commands here.</exception>
    internal ProcessGroup Start(UserAccount? user, string home, string cwd, IReadOnlyList<string> argv, TerminalRequest? terminal = null)
    {
        var environment = CommandEnvironment.For(user?.Name, home, terminal?.Term);
        try
        {
            if (!sandbox.Confined)
            {
                ExecLog.UnconfinedCommand(logger, user?.Name ?? "-", argv[0]);
                return ProcessGroup.Start(argv, cwd, environment, terminal: terminal?.Size);
            }
            sandbox.CheckHome(home, sharedRoot: !options.RequireAuthentication);
            var account = ExecAccount.For(user, options);
            return CommandSandbox.Start(sandbox.Wrap(account, home, cwd, argv, environment, terminal is not null), terminal?.Size);
        }
        catch (Win32Exception ex)
        {
            throw new FerryException(FerryErrorCode.ExecFailed, $"'{argv[0]}' could not be started: {ex.Message}.");
        }
        catch (ArgumentException ex)
        {
            // A NUL inside a shell line: no process can be given it.
            throw new FerryException(FerryErrorCode.ExecFailed, $"'{argv[0]}' could not be started: {ex.Message}");
        }
    }

    /// <summary>
    /// The time a command may run: what the client asked for, but never more than the server's maximum. A request that
    /// is not a positive, finite number of seconds (or asks for more than <see cref="MaxRequestedTimeoutSeconds"/>) is
    /// refused with field_invalid before anything starts: -0.001 must never mean "no limit".
    /// </summary>
    public static TimeSpan TimeLimit(double? requestedSeconds, TimeSpan serverMaximum)
    {
        if (requestedSeconds is not { } seconds)
            return serverMaximum;
        if (!double.IsFinite(seconds) || seconds <= 0 || seconds > MaxRequestedTimeoutSeconds)
            throw new FerryException(FerryErrorCode.FieldInvalid,
                $"'timeout' must be a positive number of seconds, at most {MaxRequestedTimeoutSeconds:0}; the server's own limit ({serverMaximum.TotalSeconds:0} s) applies anyway.");
        return serverMaximum == Timeout.InfiniteTimeSpan || seconds < serverMaximum.TotalSeconds ? TimeSpan.FromSeconds(seconds) : serverMaximum;
    }
}
