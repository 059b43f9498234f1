namespace Ferry.Server.Logging;

/// <summary>
/// The event id of every log line of the server and of <c>ferry serve</c>, in one place so that no two lines share an
/// id. Operators filter on these numbers (journald fields, log pipelines): a value, once published, never changes and
/// a retired one is never reused. A new line takes the next free number of its area.
/// </summary>
public static class LogEvents
{
    // 1000-1099: the server's life: start, listeners, users, stop.
    public const int Listening = 1000;
    public const int ServingRoot = 1001;
    public const int InsecureNoAuth = 1002;
    public const int Stopping = 1003;
    public const int AbortingConnections = 1004;
    public const int AcceptFailed = 1005;
    public const int Stopped = 1006;
    public const int Certificate = 1007;
    public const int PlainTcp = 1008;
    public const int Users = 1009;
    public const int NoUsers = 1010;
    public const int UsersReloaded = 1011;
    public const int UsersReloadFailed = 1012;

    // 1100-1199: the sweep of unfinished uploads.
    public const int PartialUploadsSwept = 1100;
    public const int PartialUploadSweepFailed = 1101;
    public const int PartialUploadSweepDone = 1102;

    // 1200-1299: ferry serve itself (Ferry.Cli).
    public const int ServeSettings = 1200;
    public const int ServeMetrics = 1201;

    // 1300-1399: command dispatch.
    public const int CommandStarted = 1300;

    // 1400-1499: the hash caches of sync.
    public const int CommittedFileDigested = 1400;
    public const int CommittedFileDigestFailed = 1401;
    public const int CommittedFileDigestSkipped = 1402;

    // 2000-2999: connections: accept, TLS, hello, limits, protocol errors.
    public const int ConnectionOpened = 2000;
    public const int ConnectionClosed = 2001;
    public const int ConnectionRefusedBusy = 2002;
    public const int ProtocolError = 2003;
    public const int TransportError = 2004;
    public const int HelloReceived = 2005;
    public const int TlsFailed = 2006;
    public const int ConnectionEvicted = 2007;

    // 3000-3999: commands on a connection.
    public const int CommandDone = 3000;
    public const int CommandFailed = 3001;
    public const int CommandCrashed = 3002;

    // 4000-4999: the audit log (category Ferry.Audit).
    public const int LoginOk = 4000;
    public const int LoginFailed = 4001;
    public const int AuditedCommand = 4002;

    // 5000-5999: UDP remote execution. 5002 (the old "Datagram handling failed" at debug level) is retired.
    public const int UdpListening = 5000;
    public const int UdpDatagramDropped = 5001;
    public const int UdpDatagramFailed = 5003;
    public const int UdpRunFailed = 5004;
    public const int UdpResultRefused = 5005;
    public const int UdpSendFailed = 5006;
    public const int UdpSweepFailed = 5007;
    public const int UdpRequestRefused = 5008;

    // 6000-6999: remote commands (sandbox, accounts).
    public const int ExecConfined = 6000;
    public const int ExecUnconfinedAtStart = 6001;
    public const int ExecUnconfinedCommand = 6002;
    public const int ExecOwnershipFailed = 6003;
    public const int ExecTerminalHungUp = 6004;
    public const int ExecTerminalKilledAfterHangUp = 6005;

    // 8000-8999: the NATS store (several servers on one JetStream cluster).
    public const int NatsStoreOpened = 8000;
    public const int NatsServerTooOld = 8001;
    public const int NatsUserRecordRejected = 8002;
    public const int NatsUsersChanged = 8003;
    public const int NatsUserWatchFailed = 8004;
    public const int NatsAuditRecordsDropped = 8005;

    // 7000-7099: the client library (Ferry.Client), which cannot see this list: Ferry.Client/ClientLogEvents.cs
    // repeats these values, and LogEventsTests holds both to them.
    public const int ClientConnected = 7000;
    public const int ClientConnectRetry = 7001;
    public const int ClientPinnedOnFirstUse = 7002;

    /// <summary>Ids no longer used by any line; kept so that they are not given to a new one.</summary>
    public static IReadOnlyList<int> Retired { get; } = [5002];
}
