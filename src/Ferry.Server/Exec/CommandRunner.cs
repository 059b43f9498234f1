using System.ComponentModel;
using Ferry.Protocol.Errors;
using Ferry.Server.Auth;
using Ferry.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Exec;

/// <summary>
/// Starts every command the server runs (TCP exec, the shell, UDP exec), so that confinement, the account switch and
/// the environment are decided in one place: in the sandbox of <see cref="CommandSandbox"/> unless the administrator
/// chose <see cref="FerryServerOptions.ExecUnconfined"/>, which is logged as a warning for every command.
/// </summary>
public sealed class CommandRunner(FerryServerOptions options, CommandSandbox sandbox, ILogger<CommandRunner> logger)
{
    /// <summary>A requested time limit longer than this (about ten years) is not a time limit but a mistake or an attack.</summary>
    public const double MaxRequestedTimeoutSeconds = 10 * 365.25 * 24 * 3600;

    /// <summary>Starts <paramref name="argv"/> for <paramref name="user"/> (null without logins) in <paramref name="cwd"/>, inside <paramref name="home"/>.</summary>
    /// <exception cref="FerryException">exec_failed: the program cannot be found or started, or the user cannot run commands here.</exception>
    internal ProcessGroup Start(UserAccount? user, string home, string cwd, IReadOnlyList<string> argv)
    {
        var environment = CommandEnvironment.For(user?.Name, home);
        try
        {
            if (!sandbox.Confined)
            {
                ExecLog.UnconfinedCommand(logger, user?.Name ?? "-", argv[0]);
                return ProcessGroup.Start(argv, cwd, environment);
            }
            sandbox.CheckHome(home, sharedRoot: !options.RequireAuthentication);
            var account = ExecAccount.For(user, options);
            return CommandSandbox.Start(sandbox.Wrap(account, home, cwd, argv, environment));
        }
        catch (Win32Exception ex)
        {
            throw new FerryException(FerryErrorCode.ExecFailed, $"'{argv[0]}' could not be started: {ex.Message}.");
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
