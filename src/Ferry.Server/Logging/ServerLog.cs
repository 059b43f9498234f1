using System.Net;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Logging;

/// <summary>Source-generated log messages. Event ids are stable: 1xxx host, 2xxx connection, 3xxx commands.</summary>
internal static partial class ServerLog
{
    [LoggerMessage(1000, LogLevel.Information, "Listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, EndPoint endPoint);

    [LoggerMessage(1001, LogLevel.Information, "Serving files from {Root}")]
    public static partial void ServingRoot(ILogger logger, string root);

    [LoggerMessage(1002, LogLevel.Warning, "AUTHENTICATION IS OFF (--insecure-no-auth): anyone who can reach {EndPoints} can read and write {Root}. Use this only on loopback or a trusted network.")]
    public static partial void InsecureNoAuth(ILogger logger, string endPoints, string root);

    [LoggerMessage(1003, LogLevel.Information, "Stopping: no new connections; {Count} connection(s) have {Grace} to finish")]
    public static partial void Stopping(ILogger logger, int count, TimeSpan grace);

    [LoggerMessage(1004, LogLevel.Warning, "Grace period over: aborting {Count} connection(s)")]
    public static partial void AbortingConnections(ILogger logger, int count);

    [LoggerMessage(1005, LogLevel.Error, "Accept failed on {EndPoint}")]
    public static partial void AcceptFailed(ILogger logger, EndPoint endPoint, Exception exception);

    [LoggerMessage(1006, LogLevel.Information, "Stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(1007, LogLevel.Information, "TLS certificate fingerprint {Fingerprint} (clients see it on first connection)")]
    public static partial void Certificate(ILogger logger, string fingerprint);

    [LoggerMessage(1008, LogLevel.Warning, "PLAIN TCP (--plain): logins are still checked and frames carry MACs, but anyone on the path can read the traffic")]
    public static partial void PlainTcp(ILogger logger);

    [LoggerMessage(1009, LogLevel.Information, "{Count} user(s) from {UsersFile}")]
    public static partial void Users(ILogger logger, int count, string usersFile);

    [LoggerMessage(1010, LogLevel.Warning, "No users yet: nobody can log in. Add one with 'ferry user add NAME'")]
    public static partial void NoUsers(ILogger logger);

    [LoggerMessage(2006, LogLevel.Information, "TLS handshake with {RemoteEndPoint} failed: {Message}")]
    public static partial void TlsFailed(ILogger logger, EndPoint? remoteEndPoint, string message);

    [LoggerMessage(2000, LogLevel.Debug, "Connection from {RemoteEndPoint}")]
    public static partial void ConnectionOpened(ILogger logger, EndPoint? remoteEndPoint);

    [LoggerMessage(2001, LogLevel.Debug, "Connection closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, string reason);

    [LoggerMessage(2002, LogLevel.Warning, "Refused {RemoteEndPoint}: {Count} connections already open (limit {Limit})")]
    public static partial void ConnectionRefusedBusy(ILogger logger, EndPoint? remoteEndPoint, int count, int limit);

    [LoggerMessage(2003, LogLevel.Warning, "Protocol error {Code} ({Status}): {Message}")]
    public static partial void ProtocolError(ILogger logger, string code, string status, string message);

    [LoggerMessage(2004, LogLevel.Debug, "Transport error: {Message}")]
    public static partial void TransportError(ILogger logger, string message);

    [LoggerMessage(2005, LogLevel.Information, "Hello from {Agent}, protocol {Version}")]
    public static partial void HelloReceived(ILogger logger, string agent, int version);

    [LoggerMessage(2007, LogLevel.Information, "Connection closed by the server's limits ({Code}): {Message}")]
    public static partial void ConnectionEvicted(ILogger logger, string code, string message);

    [LoggerMessage(3000, LogLevel.Debug, "{Command} done in {ElapsedMs:0.0} ms")]
    public static partial void CommandDone(ILogger logger, string command, double elapsedMs);

    [LoggerMessage(3001, LogLevel.Information, "{Command} failed with {Code}: {Message}")]
    public static partial void CommandFailed(ILogger logger, string command, string code, string message);

    [LoggerMessage(3002, LogLevel.Error, "{Command} failed unexpectedly")]
    public static partial void CommandCrashed(ILogger logger, string command, Exception exception);
}
