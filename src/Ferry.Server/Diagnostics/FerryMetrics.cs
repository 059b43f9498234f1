using System.Diagnostics.Metrics;
using Ferry.Protocol.Errors;

namespace Ferry.Server.Diagnostics;

/// <summary>
/// The server's instruments, on the meter <see cref="MeterName"/> (docs/deploy.md lists them with their Prometheus
/// names). Tag values come from small fixed sets — directions, transports, outcomes, error codes — never from paths,
/// user names or addresses, so a scrape stays the same size however much traffic the server sees.
/// </summary>
public sealed class FerryMetrics
{
    /// <summary>The meter every Ferry server instrument lives on.</summary>
    public const string MeterName = "Ferry.Server";

    private static readonly KeyValuePair<string, object?> s_in = new("direction", "in");
    private static readonly KeyValuePair<string, object?> s_out = new("direction", "out");
    private static readonly KeyValuePair<string, object?> s_tcp = new("transport", "tcp");
    private static readonly KeyValuePair<string, object?> s_udp = new("transport", "udp");
    private static readonly KeyValuePair<string, object?> s_rejected = new("reason", "rejected");
    private static readonly KeyValuePair<string, object?> s_throttled = new("reason", "throttled");
    private static readonly KeyValuePair<string, object?> s_tooManyConnections = new("reason", "too_many_connections");

    private readonly UpDownCounter<long> _activeConnections;
    private readonly Counter<long> _connections;
    private readonly Counter<long> _bytes;
    private readonly Counter<long> _transfersStarted;
    private readonly Counter<long> _transfersFinished;
    private readonly Counter<long> _transfersFailed;
    private readonly Counter<long> _execStarted;
    private readonly Histogram<double> _execDuration;
    private readonly Counter<long> _authFailures;
    private readonly Counter<long> _errors;
    private readonly Counter<long> _usersReloads;

    public FerryMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName, typeof(FerryMetrics).Assembly.GetName().Version?.ToString());
        _activeConnections = meter.CreateUpDownCounter<long>("ferry.server.connections.active", "{connection}",
            "TCP connections open now (after the TLS handshake).");
        _connections = meter.CreateCounter<long>("ferry.server.connections", "{connection}",
            "TCP connections accepted (after the TLS handshake), including those refused for a limit.");
        _bytes = meter.CreateCounter<long>("ferry.server.network", "By",
            "Bytes received (direction=in) and sent (direction=out) on TCP connections, TLS records included, and in UDP datagrams.");
        _transfersStarted = meter.CreateCounter<long>("ferry.server.transfers.started", "{transfer}",
            "File transfers begun: uploads (direction=in) and downloads (direction=out).");
        _transfersFinished = meter.CreateCounter<long>("ferry.server.transfers.finished", "{transfer}",
            "File transfers completed: uploads committed under their final name, downloads sent whole.");
        _transfersFailed = meter.CreateCounter<long>("ferry.server.transfers.failed", "{transfer}",
            "File transfers that ended without completing (error, checksum mismatch, connection lost).");
        _execStarted = meter.CreateCounter<long>("ferry.server.exec.started", "{command}",
            "Remote commands started, by transport (tcp, udp).");
        _execDuration = meter.CreateHistogram<double>("ferry.server.exec.duration", "s",
            "Wall time of remote commands, from start to exit, by transport and outcome (completed, error).",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 3600] });
        _authFailures = meter.CreateCounter<long>("ferry.server.auth.failures", "{failure}",
            "Refused logins, by reason: rejected (unknown user, wrong key and malformed answers alike), throttled, too_many_connections.");
        _errors = meter.CreateCounter<long>("ferry.server.errors", "{error}",
            "Errors reported to clients, by code (docs/errors.md).");
        _usersReloads = meter.CreateCounter<long>("ferry.server.users.reloads", "{reload}",
            "Reloads of the users file, by result (ok, failed).");
    }

    public void ConnectionOpened()
    {
        _connections.Add(1);
        _activeConnections.Add(1);
    }

    public void ConnectionClosed() => _activeConnections.Add(-1);

    public void Received(long bytes, bool udp = false)
    {
        if (bytes > 0)
            _bytes.Add(bytes, s_in, udp ? s_udp : s_tcp);
    }

    public void Sent(long bytes, bool udp = false)
    {
        if (bytes > 0)
            _bytes.Add(bytes, s_out, udp ? s_udp : s_tcp);
    }

    public void TransferStarted(bool upload) => _transfersStarted.Add(1, upload ? s_in : s_out);

    public void TransferFinished(bool upload) => _transfersFinished.Add(1, upload ? s_in : s_out);

    public void TransferFailed(bool upload) => _transfersFailed.Add(1, upload ? s_in : s_out);

    public void ExecStarted(bool udp) => _execStarted.Add(1, udp ? s_udp : s_tcp);

    public void ExecEnded(bool udp, TimeSpan elapsed, bool completed) =>
        _execDuration.Record(elapsed.TotalSeconds, udp ? s_udp : s_tcp, new("outcome", completed ? "completed" : "error"));

    /// <summary>
    /// A login refused for its credentials. One label for unknown user, wrong key and malformed answer alike: a
    /// metric that told them apart would let whoever can read the metrics (or watch a dashboard) find out which user
    /// names exist. The audit log keeps the real reason for the administrator.
    /// </summary>
    public void AuthRejected() => _authFailures.Add(1, s_rejected);

    /// <summary>A login refused unchecked because its address (or the whole server) failed too often lately.</summary>
    public void AuthThrottled() => _authFailures.Add(1, s_throttled);

    /// <summary>A login with the right key refused because the user already holds all their connections.</summary>
    public void AuthOverConnectionLimit() => _authFailures.Add(1, s_tooManyConnections);

    public void Error(FerryErrorCode code) => _errors.Add(1, new KeyValuePair<string, object?>("code", code.ToWire()));

    public void UsersReloaded(bool ok) => _usersReloads.Add(1, new KeyValuePair<string, object?>("result", ok ? "ok" : "failed"));
}
