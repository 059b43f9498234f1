using Microsoft.Extensions.Logging;

namespace Ferry.Client;

/// <summary>The client library's log lines (<see cref="FerryClientOptions.LoggerFactory"/>).</summary>
internal static partial class ClientLog
{
    [LoggerMessage(EventId = ClientLogEvents.Connected, Level = LogLevel.Debug,
        Message = "Connected to {Server} (TLS {Tls}, user {User})")]
    public static partial void Connected(ILogger logger, string server, bool tls, string? user);

    [LoggerMessage(EventId = ClientLogEvents.ConnectRetry, Level = LogLevel.Information,
        Message = "Connection to {Server} refused in passing ({Reason}); attempt {Attempt} in {DelayMs} ms")]
    public static partial void ConnectRetry(ILogger logger, string server, string reason, int attempt, long delayMs);

    [LoggerMessage(EventId = ClientLogEvents.PinnedOnFirstUse, Level = LogLevel.Warning,
        Message = "First connection to {Server}: its certificate fingerprint {Fingerprint} is now pinned in {TrustStore}")]
    public static partial void PinnedOnFirstUse(ILogger logger, string server, string fingerprint, string trustStore);
}
