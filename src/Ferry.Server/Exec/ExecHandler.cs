using System.Diagnostics;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Server.Diagnostics;
using Ferry.Server.Handlers;

namespace Ferry.Server.Exec;

/// <summary>
/// Runs a command and streams its output (docs/protocol.md §6). While it runs the connection belongs to it: output
/// frames go out as they are produced, stdin and signal frames come in, and a client that goes away takes the whole
/// process tree with it.
/// </summary>
internal sealed class ExecHandler(ExecLimiter limiter, CommandRunner runner, FerryMetrics metrics) : ICommandHandler
{
    public string Command => CommandNames.Exec;
    public Permissions RequiredPermission => Permissions.Exec;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        if (!options.AllowExec)
            throw new FerryException(FerryErrorCode.ExecDisabled, "This server does not run commands; its administrator can enable it with --allow-exec.");
        var request = context.Header.Deserialize(FerryJsonContext.Default.ExecMessage);
        var argv = CommandEnvironment.ArgvOf(request);
        var timeout = CommandRunner.TimeLimit(request.TimeoutSeconds, options.ExecTimeout);
        var home = context.Session.Store.LocalDirectory("")
            ?? throw new FerryException(FerryErrorCode.ExecFailed, "This server's storage has no local folder to run commands in.");
        var cwd = context.Session.Store.LocalDirectory(RemotePath.Normalize(request.WorkingDirectory ?? ""))!;
        if (!Directory.Exists(cwd))
            throw new FerryException(FerryErrorCode.NotFound, $"The working directory '{request.WorkingDirectory}' does not exist.");

        using var slot = limiter.TryEnter()
            ?? throw new FerryException(FerryErrorCode.ExecLimitReached, $"The server already runs {options.MaxConcurrentExec} commands; try again shortly.");

        var group = runner.Start(context.Session.User, home, cwd, argv);

        metrics.ExecStarted(udp: false);
        var started = Stopwatch.GetTimestamp();
        var completed = false;
        using (group)
        try
        {
            var run = new TcpCommandStream(context, request.Id, group, options.MaxExecOutputBytes);
            await run.RunAsync(timeout, cancellationToken).ConfigureAwait(false);
            completed = true;
        }
        finally
        {
            metrics.ExecEnded(udp: false, Stopwatch.GetElapsedTime(started), completed);
        }
    }
}
