using System.Net;
using System.Reflection;
using System.Text.Json.Serialization;
using Ferry.Client;
using Ferry.Protocol.Framing;
using Ferry.Server.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Ferry.Cli.Serving;

/// <summary>
/// The settings of <c>ferry serve</c> as a configuration file, FERRY_ environment variables and the command line give
/// them: plain numbers in the units an administrator writes (seconds, hours, bytes) and addresses as text. Each key is
/// the command-line option without its dashes, in snake case (<c>--max-connections</c> is <c>max_connections</c>, and
/// FERRY_MAX_CONNECTIONS in the environment). <see cref="ServeSettingsValidator"/> checks them and
/// <see cref="ToServerOptions"/> turns them into <see cref="FerryServerOptions"/>. docs/deploy.md lists them all.
/// </summary>
public sealed class ServeSettings
{
    /// <summary>What <c>--print-config</c> shows instead of a secret.</summary>
    public const string Masked = "********";

    private static readonly FerryServerOptions s_defaults = new();

    /// <summary>Addresses to listen on, IP:PORT. Default 127.0.0.1:7447 (applied after binding, so that a list never merges with it).</summary>
    [ConfigurationKeyName("listen")] public string[]? Listen { get; set; }
    [ConfigurationKeyName("root")] public string Root { get; set; } = "ferry-data";
    [ConfigurationKeyName("state_dir")] public string StateDir { get; set; } = "ferry-server";
    [ConfigurationKeyName("users_file")] public string? UsersFile { get; set; }
    [ConfigurationKeyName("users_check_interval")] public double UsersCheckInterval { get; set; } = s_defaults.UsersFileCheckInterval.TotalSeconds;
    [ConfigurationKeyName("insecure_no_auth")] public bool InsecureNoAuth { get; set; }
    [ConfigurationKeyName("plain")] public bool Plain { get; set; }
    [ConfigurationKeyName("tls_certificate")] public string? TlsCertificate { get; set; }
    [ConfigurationKeyName("tls_certificate_password")] public string? TlsCertificatePassword { get; set; }
    [ConfigurationKeyName("max_connections")] public int MaxConnections { get; set; } = s_defaults.MaxConnections;
    [ConfigurationKeyName("max_connections_per_user")] public int MaxConnectionsPerUser { get; set; } = s_defaults.MaxConnectionsPerUser;
    [ConfigurationKeyName("max_connections_per_address")] public int MaxConnectionsPerAddress { get; set; } = s_defaults.MaxConnectionsPerAddress;
    [ConfigurationKeyName("login_grace_time")] public double LoginGraceTime { get; set; } = s_defaults.LoginGraceTime.TotalSeconds;
    [ConfigurationKeyName("max_unauthenticated_connections")] public int MaxUnauthenticatedConnections { get; set; } = s_defaults.MaxUnauthenticatedConnections;
    [ConfigurationKeyName("max_unauthenticated_connections_per_address")] public int MaxUnauthenticatedConnectionsPerAddress { get; set; } = s_defaults.MaxUnauthenticatedConnectionsPerAddress;
    [ConfigurationKeyName("min_idle_before_shed")] public double MinIdleBeforeShed { get; set; } = s_defaults.MinIdleBeforeShed.TotalSeconds;
    [ConfigurationKeyName("max_tls_handshakes")] public int MaxTlsHandshakes { get; set; } = s_defaults.MaxConcurrentTlsHandshakes;
    [ConfigurationKeyName("tls_handshake_timeout")] public double TlsHandshakeTimeout { get; set; } = s_defaults.TlsHandshakeTimeout.TotalSeconds;
    [ConfigurationKeyName("max_auth_failures_total")] public int MaxAuthFailuresTotal { get; set; } = s_defaults.MaxAuthFailuresTotal;
    [ConfigurationKeyName("max_auth_failures")] public int MaxAuthFailures { get; set; } = s_defaults.MaxAuthFailures;
    [ConfigurationKeyName("auth_failure_window")] public double AuthFailureWindow { get; set; } = s_defaults.AuthFailureWindow.TotalSeconds;
    [ConfigurationKeyName("auth_failure_delay")] public double AuthFailureDelay { get; set; } = s_defaults.AuthFailureDelay.TotalSeconds;
    [ConfigurationKeyName("max_auth_throttle_networks")] public int MaxAuthThrottleNetworks { get; set; } = s_defaults.MaxAuthThrottleNetworks;
    [ConfigurationKeyName("header_timeout")] public double HeaderTimeout { get; set; } = s_defaults.HeaderTimeout.TotalSeconds;
    [ConfigurationKeyName("idle_timeout")] public double IdleTimeout { get; set; } = s_defaults.IdleTimeout.TotalSeconds;
    [ConfigurationKeyName("shutdown_grace")] public double ShutdownGrace { get; set; } = s_defaults.ShutdownGrace.TotalSeconds;
    [ConfigurationKeyName("max_header_bytes")] public int MaxHeaderBytes { get; set; } = FrameLimits.DefaultMaxHeaderBytes;
    [ConfigurationKeyName("quota")] public long? Quota { get; set; }
    /// <summary>Where files and users live: unset for the local folders (root, users file), or nats://HOST:PORT[,HOST:PORT...].</summary>
    [ConfigurationKeyName("store")] public string? Store { get; set; }
    [ConfigurationKeyName("nats_replicas")] public int NatsReplicas { get; set; } = 3;
    /// <summary>User name for a NATS cluster with user/password authorization; the password is read from <see cref="NatsPasswordFile"/>.</summary>
    [ConfigurationKeyName("nats_user")] public string? NatsUser { get; set; }
    [ConfigurationKeyName("nats_password_file")] public string? NatsPasswordFile { get; set; }
    [ConfigurationKeyName("nats_creds_file")] public string? NatsCredsFile { get; set; }
    [ConfigurationKeyName("nats_tls_ca")] public string? NatsTlsCa { get; set; }
    [ConfigurationKeyName("nats_tls_cert")] public string? NatsTlsCert { get; set; }
    [ConfigurationKeyName("nats_tls_key")] public string? NatsTlsKey { get; set; }
    /// <summary>A JetStream stream for the audit records (NATS store only), or unset for none.</summary>
    [ConfigurationKeyName("audit_stream")] public string? AuditStream { get; set; }
    /// <summary>Days the audit stream keeps a record.</summary>
    [ConfigurationKeyName("audit_stream_max_age")] public double AuditStreamMaxAge { get; set; } = NatsStoreSettings.DefaultAuditStreamMaxAge.TotalDays;
    [ConfigurationKeyName("partial_ttl")] public double PartialTtl { get; set; } = s_defaults.PartialUploadTtl.TotalHours;
    [ConfigurationKeyName("max_open_uploads")] public int MaxOpenUploads { get; set; } = s_defaults.MaxOpenUploads;
    [ConfigurationKeyName("max_open_uploads_per_user")] public int MaxOpenUploadsPerUser { get; set; } = s_defaults.MaxOpenUploadsPerUser;
    [ConfigurationKeyName("audit_log")] public string? AuditLog { get; set; }
    [ConfigurationKeyName("allow_exec")] public bool AllowExec { get; set; }
    [ConfigurationKeyName("exec_timeout")] public double ExecTimeout { get; set; } = s_defaults.ExecTimeout.TotalSeconds;
    [ConfigurationKeyName("max_exec_output")] public long MaxExecOutput { get; set; } = s_defaults.MaxExecOutputBytes;
    [ConfigurationKeyName("max_commands")] public int MaxCommands { get; set; } = s_defaults.MaxConcurrentExec;
    [ConfigurationKeyName("exec_unconfined")] public bool ExecUnconfined { get; set; }
    [ConfigurationKeyName("exec_sandbox")] public string ExecSandbox { get; set; } = s_defaults.ExecSandboxProgram;
    [ConfigurationKeyName("exec_user")] public string ExecUser { get; set; } = s_defaults.ExecUser;
    [ConfigurationKeyName("exec_limits")] public ExecLimitSettings ExecLimits { get; set; } = new();
    /// <summary>Permissions of uploaded files as octal text ("0600"); folders get the matching search bits.</summary>
    [ConfigurationKeyName("file_mode")] public string FileMode { get; set; } = "0600";
    [ConfigurationKeyName("udp_listen")] public string? UdpListen { get; set; }
    [ConfigurationKeyName("udp_replay_window")] public double UdpReplayWindow { get; set; } = s_defaults.UdpReplayWindow.TotalSeconds;
    [ConfigurationKeyName("udp_result_retention")] public double UdpResultRetention { get; set; } = s_defaults.UdpResultRetention.TotalSeconds;
    [ConfigurationKeyName("max_udp_output")] public long MaxUdpOutput { get; set; } = s_defaults.MaxUdpOutputBytes;
    [ConfigurationKeyName("max_udp_result_bytes_per_user")] public long MaxUdpResultBytesPerUser { get; set; } = s_defaults.MaxUdpResultBytesPerUser;
    [ConfigurationKeyName("max_udp_result_bytes")] public long MaxUdpResultBytes { get; set; } = s_defaults.MaxUdpResultBytes;
    [ConfigurationKeyName("max_udp_requests_per_user")] public int MaxUdpRequestsPerUser { get; set; } = s_defaults.MaxUdpRequestsPerUser;
    [ConfigurationKeyName("max_udp_requests")] public int MaxUdpRequests { get; set; } = s_defaults.MaxUdpRequests;
    [ConfigurationKeyName("log_level")] public string LogLevel { get; set; } = nameof(Microsoft.Extensions.Logging.LogLevel.Information);
    [ConfigurationKeyName("metrics_listen")] public string? MetricsListen { get; set; }
    [ConfigurationKeyName("metrics_allow_remote")] public bool MetricsAllowRemote { get; set; }

    /// <summary>The default listen address, used when no source gives one.</summary>
    public static string DefaultListen => $"127.0.0.1:{FerryServerOptions.DefaultPort}";

    /// <summary>Every key a configuration file may hold.</summary>
    public static IReadOnlySet<string> Keys { get; } = typeof(ServeSettings).GetProperties()
        .Select(p => p.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name)
        .OfType<string>()
        .ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>The log level; call after validation.</summary>
    [JsonIgnore] public LogLevel ParsedLogLevel => Enum.Parse<LogLevel>(LogLevel, ignoreCase: true);

    /// <summary>The metrics address, or null when there is no metrics endpoint; call after validation.</summary>
    // A method, not a property: the configuration binder (source-generated under native AOT) would try to bind it.
    public IPEndPoint? MetricsEndPoint() => MetricsListen is { Length: > 0 } text ? ParseListen(text) : null;

    /// <summary>A copy that can be shown: secrets replaced by <see cref="Masked"/>.</summary>
    public ServeSettings Redacted()
    {
        var copy = (ServeSettings)MemberwiseClone();
        if (copy.TlsCertificatePassword is not null)
            copy.TlsCertificatePassword = Masked;
        return copy;
    }

    /// <summary>The NATS store these settings stand for, or null for the local folders; call after validation.</summary>
    public NatsStoreSettings? ToNatsStoreSettings() => Store is not { } store ? null : new NatsStoreSettings
    {
        Store = store,
        Replicas = NatsReplicas,
        User = NatsUser,
        PasswordFile = NatsPasswordFile,
        CredsFile = NatsCredsFile,
        TlsCa = NatsTlsCa,
        TlsCert = NatsTlsCert,
        TlsKey = NatsTlsKey,
        AuditStream = AuditStream,
        // Out of range, it is refused by validation (in days), not thrown here.
        AuditStreamMaxAge = AuditStreamMaxAge is > 0 and <= 36_500 ? TimeSpan.FromDays(AuditStreamMaxAge) : TimeSpan.Zero,
    };

    /// <summary>The server options these settings stand for; call after validation.</summary>
    public FerryServerOptions ToServerOptions() => new()
    {
        Listen = (Listen ?? [DefaultListen]).Select(ParseListen).ToList(),
        Root = Root,
        StateDirectory = StateDir,
        UsersFile = UsersFile,
        UsersFileCheckInterval = TimeSpan.FromSeconds(UsersCheckInterval),
        InsecureNoAuth = InsecureNoAuth,
        RequireAuthentication = !InsecureNoAuth,
        UseTls = !InsecureNoAuth && !Plain,
        TlsCertificatePath = TlsCertificate,
        TlsCertificatePassword = TlsCertificatePassword,
        MaxConnections = MaxConnections,
        MaxConnectionsPerUser = MaxConnectionsPerUser,
        MaxConnectionsPerAddress = MaxConnectionsPerAddress,
        LoginGraceTime = TimeSpan.FromSeconds(LoginGraceTime),
        MaxUnauthenticatedConnections = MaxUnauthenticatedConnections,
        MaxUnauthenticatedConnectionsPerAddress = MaxUnauthenticatedConnectionsPerAddress,
        MinIdleBeforeShed = TimeSpan.FromSeconds(MinIdleBeforeShed),
        MaxConcurrentTlsHandshakes = MaxTlsHandshakes,
        TlsHandshakeTimeout = TimeSpan.FromSeconds(TlsHandshakeTimeout),
        MaxAuthFailuresTotal = MaxAuthFailuresTotal,
        MaxAuthFailures = MaxAuthFailures,
        AuthFailureWindow = TimeSpan.FromSeconds(AuthFailureWindow),
        AuthFailureDelay = TimeSpan.FromSeconds(AuthFailureDelay),
        MaxAuthThrottleNetworks = MaxAuthThrottleNetworks,
        HeaderTimeout = TimeSpan.FromSeconds(HeaderTimeout),
        IdleTimeout = TimeSpan.FromSeconds(IdleTimeout),
        ShutdownGrace = TimeSpan.FromSeconds(ShutdownGrace),
        Frames = new() { MaxHeaderBytes = MaxHeaderBytes },
        QuotaBytes = Quota,
        PartialUploadTtl = TimeSpan.FromHours(PartialTtl),
        MaxOpenUploads = MaxOpenUploads,
        MaxOpenUploadsPerUser = MaxOpenUploadsPerUser,
        AuditLogPath = AuditLog,
        AllowExec = AllowExec,
        ExecTimeout = TimeSpan.FromSeconds(ExecTimeout),
        MaxExecOutputBytes = MaxExecOutput,
        MaxConcurrentExec = MaxCommands,
        ExecUnconfined = ExecUnconfined,
        ExecSandboxProgram = ExecSandbox,
        ExecUser = ExecUser,
        ExecLimits = new()
        {
            OpenFiles = ExecLimits.OpenFiles,
            Processes = ExecLimits.Processes,
            CpuSeconds = ExecLimits.CpuSeconds,
            AddressSpaceBytes = ExecLimits.AddressSpace,
        },
        DataFileMode = ParseFileMode(FileMode) ?? throw new FormatException($"file_mode: '{FileMode}' is not an octal mode."),
        UdpListen = UdpListen is { Length: > 0 } udp ? ParseListen(udp) : null,
        UdpReplayWindow = TimeSpan.FromSeconds(UdpReplayWindow),
        UdpResultRetention = TimeSpan.FromSeconds(UdpResultRetention),
        MaxUdpOutputBytes = MaxUdpOutput,
        MaxUdpResultBytesPerUser = MaxUdpResultBytesPerUser,
        MaxUdpResultBytes = MaxUdpResultBytes,
        MaxUdpRequestsPerUser = MaxUdpRequestsPerUser,
        MaxUdpRequests = MaxUdpRequests,
    };

    /// <summary>"0600" or "600" as a mode; null when the text is not octal digits.</summary>
    public static UnixFileMode? ParseFileMode(string? text)
    {
        if (text is not { Length: >= 1 and <= 4 } || !text.All(c => c is >= '0' and <= '7'))
            return null;
        return (UnixFileMode)Convert.ToInt32(text, 8);
    }

    private static IPEndPoint ParseListen(string text) =>
        ServerAddress.TryParseListen(text, out var endPoint, out var error) ? endPoint : throw new FormatException(error);
}

/// <summary>The JSON that <c>ferry serve --print-config</c> writes: the same snake-case keys a configuration file takes.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ServeSettings))]
internal sealed partial class ServeSettingsJsonContext : JsonSerializerContext;
