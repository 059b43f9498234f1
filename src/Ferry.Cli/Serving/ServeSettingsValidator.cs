using System.Globalization;
using System.Net;
using Ferry.Client;
using Ferry.Server.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ferry.Cli.Serving;

/// <summary>
/// Checks every setting before the server starts. Each failure is one line that starts with the setting's key, so the
/// same message serves whether the value came from the file, the environment or the command line.
/// </summary>
public sealed class ServeSettingsValidator : IValidateOptions<ServeSettings>
{
    public ValidateOptionsResult Validate(string? name, ServeSettings settings)
    {
        var failures = new List<string>();
        void Fail(string key, string reason) => failures.Add($"{key}: {reason}");

        var listen = settings.Listen ?? [ServeSettings.DefaultListen];
        if (listen.Length == 0)
            Fail("listen", "at least one address is needed, for example 127.0.0.1:7447.");
        foreach (var address in listen)
            if (!ServerAddress.TryParseListen(address, out _, out var problem))
                Fail("listen", problem);

        RequireText("root", settings.Root);
        RequireText("state_dir", settings.StateDir);
        if (settings.UsersFile is { } usersFile)
        {
            if (string.IsNullOrWhiteSpace(usersFile))
                Fail("users_file", "is empty; leave it out to use users.json in state_dir.");
            else if (!settings.InsecureNoAuth && !File.Exists(usersFile))
                Fail("users_file", $"{usersFile} does not exist; create it with 'ferry user add NAME --users {usersFile}', or leave users_file out to use users.json in state_dir.");
        }
        AtLeast("users_check_interval", settings.UsersCheckInterval, 0, "seconds (0 turns the check off)");

        if (settings.TlsCertificate is { } certificate)
        {
            if (settings.InsecureNoAuth || settings.Plain)
                Fail("tls_certificate", "is set, but plain (or insecure_no_auth) turns TLS off; remove one of them.");
            else if (!File.Exists(certificate))
                Fail("tls_certificate", $"{certificate} does not exist.");
        }
        else if (settings.TlsCertificatePassword is not null)
        {
            Fail("tls_certificate_password", "is set without tls_certificate.");
        }

        AtLeastOne("max_connections", settings.MaxConnections);
        AtLeastOne("max_connections_per_user", settings.MaxConnectionsPerUser);
        AtLeastOne("max_connections_per_address", settings.MaxConnectionsPerAddress);
        Positive("login_grace_time", settings.LoginGraceTime, "seconds");
        AtLeastOne("max_unauthenticated_connections", settings.MaxUnauthenticatedConnections);
        AtLeastOne("max_unauthenticated_connections_per_address", settings.MaxUnauthenticatedConnectionsPerAddress);
        AtLeast("min_idle_before_shed", settings.MinIdleBeforeShed, 0, "seconds");
        if (settings.MinIdleBeforeShed >= settings.LoginGraceTime && settings.LoginGraceTime > 0)
            Fail("min_idle_before_shed", $"must be shorter than login_grace_time ({Number(settings.LoginGraceTime)} s), not {Number(settings.MinIdleBeforeShed)}: " +
                "a connection that has not logged in would be closed before it could be shed, and newcomers refused instead.");
        AtLeastOne("max_tls_handshakes", settings.MaxTlsHandshakes);
        Positive("tls_handshake_timeout", settings.TlsHandshakeTimeout, "seconds");
        AtLeastOne("max_auth_failures_total", settings.MaxAuthFailuresTotal);
        AtLeastOne("max_auth_failures", settings.MaxAuthFailures);
        Positive("auth_failure_window", settings.AuthFailureWindow, "seconds");
        AtLeast("auth_failure_delay", settings.AuthFailureDelay, 0, "seconds");
        AtLeastOne("max_auth_throttle_networks", settings.MaxAuthThrottleNetworks);
        Positive("header_timeout", settings.HeaderTimeout, "seconds");
        Positive("idle_timeout", settings.IdleTimeout, "seconds");
        AtLeast("shutdown_grace", settings.ShutdownGrace, 0, "seconds");
        if (settings.MaxHeaderBytes is < 64 or > 16 * 1024 * 1024)
            Fail("max_header_bytes", $"must be between 64 and 16777216 bytes, not {settings.MaxHeaderBytes}.");
        if (settings.ToNatsStoreSettings() is { } nats)
        {
            // audit_stream_max_age is checked below, in the days it was written in.
            foreach (var (key, problem) in nats.Problems().Where(p => p.Key != "audit_stream_max_age"))
                Fail(key, problem);
        }
        else
        {
            if (settings.NatsReplicas is < 1 or > 5)
                Fail("nats_replicas", $"must be 1 to 5, not {settings.NatsReplicas}.");
            foreach (var (key, value) in new[] { ("nats_user", settings.NatsUser), ("nats_password_file", settings.NatsPasswordFile),
                ("nats_creds_file", settings.NatsCredsFile), ("nats_tls_ca", settings.NatsTlsCa), ("nats_tls_cert", settings.NatsTlsCert),
                ("nats_tls_key", settings.NatsTlsKey), ("audit_stream", settings.AuditStream) })
            {
                if (value is not null)
                    Fail(key, "applies to a NATS store only; set store to nats://HOST:PORT[,...] or leave it out.");
            }
        }
        if (settings.Store is not null && settings.Quota is not null)
            Fail("quota", "applies to the local root only; with a NATS store give users quotas ('ferry user set NAME --quota BYTES --store ...').");
        if (settings.Quota is < 0)
            Fail("quota", $"must be a number of bytes, not {settings.Quota}; leave it out for no quota.");
        if (!(settings.AuditStreamMaxAge > 0) || settings.AuditStreamMaxAge > 36_500)
            Fail("audit_stream_max_age", $"must be a positive number of days up to 36500, not {Number(settings.AuditStreamMaxAge)}.");
        Positive("partial_ttl", settings.PartialTtl, "hours");
        AtLeastOne("max_open_uploads", settings.MaxOpenUploads);
        AtLeastOne("max_open_uploads_per_user", settings.MaxOpenUploadsPerUser);
        if (settings.AuditLog is { } auditLog)
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(auditLog));
            if (string.IsNullOrWhiteSpace(auditLog))
                Fail("audit_log", "is empty; leave it out for no audit file.");
            else if (folder is not null && !Directory.Exists(folder))
                Fail("audit_log", $"the folder {folder} does not exist.");
        }
        Positive("exec_timeout", settings.ExecTimeout, "seconds");
        if (settings.MaxExecOutput < 0)
            Fail("max_exec_output", $"must be a number of bytes, not {settings.MaxExecOutput}.");
        AtLeastOne("max_commands", settings.MaxCommands);
        if (string.IsNullOrWhiteSpace(settings.ExecSandbox))
            Fail("exec_sandbox", "must name the bubblewrap program (bwrap, or its path).");
        if (string.IsNullOrWhiteSpace(settings.ExecUser) || !Ferry.Server.Auth.UserAccount.IsValidOsUser(settings.ExecUser) || settings.ExecUser == "root")
            Fail("exec_user", $"'{settings.ExecUser}' is not the name of an unprivileged OS account.");
        foreach (var (key, value) in new[] { ("open_files", settings.ExecLimits.OpenFiles), ("processes", settings.ExecLimits.Processes),
            ("cpu_seconds", settings.ExecLimits.CpuSeconds), ("address_space", settings.ExecLimits.AddressSpace) })
        {
            if (value is <= 0)
                Fail($"exec_limits.{key}", $"must be positive, not {value}; null (none on the command line) means no limit.");
        }
        const int ownerReadWrite = 0x180, readWriteBits = 0x1B6;
        if (ServeSettings.ParseFileMode(settings.FileMode) is not { } fileMode || ((int)fileMode & ownerReadWrite) != ownerReadWrite || ((int)fileMode & ~readWriteBits) != 0)
            Fail("file_mode", $"'{settings.FileMode}' must be an octal mode that gives the owner read and write and holds only read and write bits, such as 0600 (the default) or 0640.");
        if (settings.UdpListen is { } udp && !ServerAddress.TryParseListen(udp, out _, out var udpProblem))
            Fail("udp_listen", udpProblem);
        Positive("udp_replay_window", settings.UdpReplayWindow, "seconds");
        Positive("udp_result_retention", settings.UdpResultRetention, "seconds");
        if (settings.MaxUdpOutput < 0)
            Fail("max_udp_output", $"must be a number of bytes, not {settings.MaxUdpOutput}.");
        ResultBudget("max_udp_result_bytes_per_user", settings.MaxUdpResultBytesPerUser);
        ResultBudget("max_udp_result_bytes", settings.MaxUdpResultBytes);
        AtLeastOne("max_udp_requests_per_user", settings.MaxUdpRequestsPerUser);
        AtLeastOne("max_udp_requests", settings.MaxUdpRequests);

        if (!Enum.TryParse<LogLevel>(settings.LogLevel, ignoreCase: true, out _) || int.TryParse(settings.LogLevel, out _))
            Fail("log_level", $"'{settings.LogLevel}' is not a log level; use Trace, Debug, Information, Warning, Error, Critical or None.");

        if (settings.MetricsListen is { } metrics)
        {
            if (!ServerAddress.TryParseListen(metrics, out var endPoint, out var problem))
                Fail("metrics_listen", problem);
            else if (endPoint.Port == 0)
                Fail("metrics_listen", $"'{metrics}' needs a real port, for example 127.0.0.1:9464 (Prometheus scrapes a fixed address).");
            else if (!IPAddress.IsLoopback(endPoint.Address) && !settings.MetricsAllowRemote)
                Fail("metrics_listen", $"{endPoint} is not a loopback address; the metrics endpoint has no authentication, so set metrics_allow_remote to true to serve it beyond this machine.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);

        void RequireText(string key, string? value)
        {
            if (string.IsNullOrWhiteSpace(value))
                Fail(key, "must name a folder.");
        }

        void AtLeastOne(string key, int value)
        {
            if (value < 1)
                Fail(key, $"must be at least 1, not {value}.");
        }

        void ResultBudget(string key, long value)
        {
            if (value < FerryServerOptions.MinUdpResultBytes)
                Fail(key, $"must be at least {FerryServerOptions.MinUdpResultBytes} bytes (room for a result's head and some output), not {value}.");
        }

        void Positive(string key, double value, string unit)
        {
            if (!(value > 0) || !double.IsFinite(value) || value > TimeSpan.MaxValue.TotalSeconds / 3600 / 2)
                Fail(key, $"must be a positive number of {unit}, not {value.ToString(CultureInfo.InvariantCulture)}.");
        }

        void AtLeast(string key, double value, double minimum, string unit)
        {
            if (!(value >= minimum) || !double.IsFinite(value) || value > TimeSpan.MaxValue.TotalSeconds / 3600 / 2)
                Fail(key, $"must be a number of {unit} from {minimum.ToString(CultureInfo.InvariantCulture)} up, not {value.ToString(CultureInfo.InvariantCulture)}.");
        }

        static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);
    }
}
