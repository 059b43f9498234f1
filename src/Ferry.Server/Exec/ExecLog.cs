using Microsoft.Extensions.Logging;

namespace Ferry.Server.Exec;

/// <summary>Log lines about how commands are confined (6000s).</summary>
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
}
