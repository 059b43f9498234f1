using Microsoft.Extensions.Logging;

namespace Ferry.Server.Logging;

/// <summary>Debug messages of the command dispatcher (event ids 1300-1399).</summary>
internal static partial class DispatchLog
{
    /// <summary>A command passed its gates and its handler runs: from here a stopping server lets it finish.</summary>
    [LoggerMessage(LogEvents.CommandStarted, LogLevel.Debug, "{Command} started")]
    public static partial void CommandStarted(ILogger logger, string command);
}
