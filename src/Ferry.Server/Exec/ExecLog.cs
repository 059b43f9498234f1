using Microsoft.Extensions.Logging;

namespace Ferry.Server.Exec;

/// <summary>Log lines about how commands are confined, and about commands ended by the server's stop (6000s).</summary>
internal static partial class ExecLog
{
    [LoggerMessage(Logging.LogEvents.ExecConfined, LogLevel.Information, "Commands run confined: {Sandbox}, as {Account}")]
    public static partial void Confined(ILogger logger, string sandbox, string account);

    [LoggerMessage(Logging.LogEvents.ExecUnconfinedAtStart, LogLevel.Warning, "Commands run UNCONFINED (exec_unconfined): they run as {Account} and can read and change everything it can, including the users file and the TLS key")]
    public static partial void UnconfinedAtStart(ILogger logger, string account);

    [LoggerMessage(Logging.LogEvents.ExecUnconfinedCommand, LogLevel.Warning, "Unconfined command for {User}: {Program}")]
    public static partial void UnconfinedCommand(ILogger logger, string user, string program);

    [LoggerMessage(Logging.LogEvents.ExecOwnershipFailed, LogLevel.Warning, "Could not give {Path} to the account {Account}: {Reason}")]
    public static partial void OwnershipFailed(ILogger logger, string path, string account, string reason);

    [LoggerMessage(Logging.LogEvents.ExecTerminalHungUp, LogLevel.Information, "Server stopping: hung up the terminal of {User}'s command {Program} (pid {Pid})")]
    public static partial void TerminalHungUp(ILogger logger, string user, string program, int pid);

    [LoggerMessage(Logging.LogEvents.ExecTerminalKilledAfterHangUp, LogLevel.Information, "{User}'s command {Program} (pid {Pid}) ignored the hang-up; killed")]
    public static partial void TerminalKilledAfterHangUp(ILogger logger, string user, string program, int pid);
}
