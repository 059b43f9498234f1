using System.Net;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Logging;

/// <summary>Source-generated log messages. Event ids are stable: 1xxx host, 2xxx connection, 3xxx commands.</summary>
internal static partial class ServerLog
{
    [LoggerMessage(LogEvents.Listening, LogLevel.Information, "Listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, EndPoint endPoint);

    [LoggerMessage(LogEvents.ServingRoot, LogLevel.Information, "Serving files from {Root}")]
    public static partial void ServingRoot(ILogger logger, string root);

    [LoggerMessage(LogEvents.InsecureNoAuth, LogLevel.Warning, "AUTHENTICATION IS OFF (--insecure-no-auth): anyone who can reach {EndPoints} can read and write {Root}. Use this only on loopback or a trusted network.")]
    public static partial void InsecureNoAuth(ILogger logger, string endPoints, string root);

    [LoggerMessage(LogEvents.Stopping, LogLevel.Information, "Stopping: no new connections; {Count} connection(s) have {Grace} to finish")]
    public static partial void Stopping(ILogger logger, int count, TimeSpan grace);

    [LoggerMessage(LogEvents.AbortingConnections, LogLevel.Warning, "Grace period over: aborting {Count} connection(s)")]
    public static partial void AbortingConnections(ILogger logger, int count);

    [LoggerMessage(LogEvents.AcceptFailed, LogLevel.Error, "Accept failed on {EndPoint}")]
    public static partial void AcceptFailed(ILogger logger, EndPoint endPoint, Exception exception);

    [LoggerMessage(LogEvents.Stopped, LogLevel.Information, "Stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(LogEvents.Certificate, LogLevel.Information, "TLS certificate fingerprint {Fingerprint} (clients see it on first connection)")]
    public static partial void Certificate(ILogger logger, string fingerprint);

    [LoggerMessage(LogEvents.PlainTcp, LogLevel.Warning, "PLAIN TCP (--plain): logins are still checked and frames carry MACs, but anyone on the path can read the traffic")]
    public static partial void PlainTcp(ILogger logger);

    [LoggerMessage(LogEvents.Users, LogLevel.Information, "{Count} user(s) from {Users}")]
    public static partial void Users(ILogger logger, int count, string users);

    [LoggerMessage(LogEvents.NoUsers, LogLevel.Warning, "No users yet: nobody can log in. Add one with 'ferry user add NAME'")]
    public static partial void NoUsers(ILogger logger);

    [LoggerMessage(LogEvents.TlsFailed, LogLevel.Information, "TLS handshake with {RemoteEndPoint} failed: {Message}")]
    public static partial void TlsFailed(ILogger logger, EndPoint? remoteEndPoint, string message);

    [LoggerMessage(LogEvents.ConnectionOpened, LogLevel.Debug, "Connection from {RemoteEndPoint}")]
    public static partial void ConnectionOpened(ILogger logger, EndPoint? remoteEndPoint);

    [LoggerMessage(LogEvents.ConnectionClosed, LogLevel.Debug, "Connection closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, string reason);

    [LoggerMessage(LogEvents.ConnectionRefusedBusy, LogLevel.Warning, "Refused {RemoteEndPoint}: {Count} connections already open (limit {Limit})")]
    public static partial void ConnectionRefusedBusy(ILogger logger, EndPoint? remoteEndPoint, int count, int limit);

    [LoggerMessage(LogEvents.ProtocolError, LogLevel.Warning, "Protocol error {Code} ({Status}): {Message}")]
    public static partial void ProtocolError(ILogger logger, string code, string status, string message);

    [LoggerMessage(LogEvents.TransportError, LogLevel.Debug, "Transport error: {Message}")]
    public static partial void TransportError(ILogger logger, string message);

    [LoggerMessage(LogEvents.HelloReceived, LogLevel.Information, "Hello from {Agent}, protocol {Version}")]
    public static partial void HelloReceived(ILogger logger, string agent, int version);

    [LoggerMessage(LogEvents.ConnectionEvicted, LogLevel.Information, "Connection closed by the server's limits ({Code}): {Message}")]
    public static partial void ConnectionEvicted(ILogger logger, string code, string message);

    [LoggerMessage(LogEvents.CommandDone, LogLevel.Debug, "{Command} done in {ElapsedMs:0.0} ms")]
    public static partial void CommandDone(ILogger logger, string command, double elapsedMs);

    [LoggerMessage(LogEvents.CommandFailed, LogLevel.Information, "{Command} failed with {Code}: {Message}")]
    public static partial void CommandFailed(ILogger logger, string command, string code, string message);

    [LoggerMessage(LogEvents.CommandCrashed, LogLevel.Error, "{Command} failed unexpectedly")]
    public static partial void CommandCrashed(ILogger logger, string command, Exception exception);
}
