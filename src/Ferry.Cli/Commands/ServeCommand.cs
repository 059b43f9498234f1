using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using Ferry.Cli.Serving;
using Ferry.Server.Auth;
using Ferry.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace Ferry.Cli.Commands;

internal static class ServeCommand
{
    public static Command Create()
    {
        var defaults = new ServeSettings();
        var config = new Option<string?>("--config", "-c")
        {
            Description = $"JSON settings file (keys as in docs/deploy.md). Default: {ServeConfiguration.SystemConfigPath} for root, else ~/.config/ferry/ferry.json, if it exists. " +
                "FERRY_ environment variables override the file, and options given here override both.",
        };
        var printConfig = new Option<bool>("--print-config") { Description = "Print the settings in effect as JSON (secrets masked) and exit." };
        var listen = new Option<string[]>("--listen", "-l")
        {
            Description = $"Address to listen on, IP:PORT; repeat for several (IPv4 and IPv6). Default {ServeSettings.DefaultListen}.",
            AllowMultipleArgumentsPerToken = false,
        };
        var root = new Option<string>("--root", "-r") { Description = $"Folder to serve (created if missing). Default ./{defaults.Root}." };
        var maxConnections = new Option<int>("--max-connections") { Description = $"Connections served at once; more are refused with server_busy. Default {defaults.MaxConnections}." };
        var headerTimeout = new Option<double>("--header-timeout") { Description = $"Seconds from a frame's first byte to its complete header. Default {defaults.HeaderTimeout}." };
        var idleTimeout = new Option<double>("--idle-timeout") { Description = $"Seconds a connection may stay silent. Default {defaults.IdleTimeout}." };
        var grace = new Option<double>("--shutdown-grace") { Description = $"Seconds that work in flight may take to finish on Ctrl-C or SIGTERM (commands on terminals are hung up at once). Default {defaults.ShutdownGrace}." };
        var maxHeader = new Option<int>("--max-header-bytes") { Description = $"Largest frame header accepted, in bytes. Default {defaults.MaxHeaderBytes}." };
        var noAuth = new Option<bool>("--insecure-no-auth") { Description = "No login, plain TCP, and classic clients that send no hello are accepted. Only for loopback or trusted networks." };
        var plain = new Option<bool>("--plain") { Description = "Plain TCP instead of TLS (logins still required; frames carry MACs). Anyone on the path can read the traffic." };
        var tlsCertificate = new Option<string?>("--tls-certificate") { Description = "PKCS#12 file with the TLS certificate and key to use instead of the self-signed one (password: tls_certificate_password in the file or FERRY_TLS_CERTIFICATE_PASSWORD)." };
        var stateDir = new Option<string>("--state-dir") { Description = $"Folder for the server's certificate and users file. Default ./{defaults.StateDir}." };
        var usersFile = new Option<string?>("--users") { Description = "Users file (default: users.json in --state-dir). Changes to it are picked up while the server runs; SIGHUP reloads it at once." };
        var store = new Option<string?>("--store")
        {
            Description = "Keep files and users in a NATS JetStream cluster shared by several servers: nats://HOST:PORT[,HOST:PORT...] (docs/deploy.md). Default: the local root and users file.",
        };
        var natsReplicas = new Option<int>("--nats-replicas") { Description = $"Copies the NATS cluster keeps of every bucket (1 to 5). Default {defaults.NatsReplicas}." };
        var natsUser = new Option<string?>("--nats-user") { Description = "User name for a NATS cluster that requires one; the password comes from --nats-password-file." };
        var natsPasswordFile = new Option<string?>("--nats-password-file") { Description = "File holding the password of --nats-user (never give the password itself)." };
        var natsCredsFile = new Option<string?>("--nats-creds-file") { Description = "NATS credentials file (user JWT and nkey seed) for a cluster run with accounts; instead of user and password." };
        var natsTlsCa = new Option<string?>("--nats-tls-ca") { Description = "PEM CA certificate that verifies the NATS servers; turns TLS on (as a tls:// store does)." };
        var natsTlsCert = new Option<string?>("--nats-tls-cert") { Description = "PEM client certificate for a NATS cluster that verifies its clients (with --nats-tls-key)." };
        var natsTlsKey = new Option<string?>("--nats-tls-key") { Description = "PEM private key of --nats-tls-cert." };
        var auditStream = new Option<string?>("--audit-stream") { Description = "Also publish every audit record to this JetStream stream of the NATS store (created if missing), subject STREAM.HOST." };
        var auditStreamMaxAge = new Option<double>("--audit-stream-max-age") { Description = $"Days the audit stream keeps a record. Default {defaults.AuditStreamMaxAge}." };
        var auditLog = new Option<string?>("--audit-log") { Description = "Append an audit log (JSON lines: logins, failures, commands) to this file." };
        var perUser = new Option<int>("--max-connections-per-user") { Description = $"Connections one user may have open. Default {defaults.MaxConnectionsPerUser}." };
        var perAddress = new Option<int>("--max-connections-per-address") { Description = $"Connections one client address may have open. Default {defaults.MaxConnectionsPerAddress}." };
        var quota = new Option<long?>("--quota") { Description = "Byte quota for the files under the root; uploads that would exceed it are refused before any data is sent. Default: none." };
        var partialTtl = new Option<double>("--partial-ttl") { Description = $"Hours an unfinished upload is kept for resume. Default {defaults.PartialTtl}." };
        var allowExec = new Option<bool>("--allow-exec") { Description = "Run commands for users with the exec permission (ferry exec, ferry shell)." };
        var execUnconfined = new Option<bool>("--exec-unconfined")
        {
            Description = "Run commands WITHOUT the sandbox, as the server's own account, able to read the users file and the TLS key (warned at start and for every command). Only where bubblewrap cannot run.",
        };
        var execSandbox = new Option<string>("--exec-sandbox") { Description = $"The bubblewrap program that confines commands. Default {defaults.ExecSandbox}." };
        var udpListen = new Option<string?>("--udp-listen") { Description = "Also accept commands over UDP on IP:PORT (ferry exec --udp)." };
        var execTimeout = new Option<double>("--exec-timeout") { Description = $"Seconds a command may run before its process tree is killed. Default {defaults.ExecTimeout}." };
        var maxExecOutput = new Option<long>("--max-exec-output") { Description = $"Bytes of output forwarded per command; the rest is cut with a marker. Default {defaults.MaxExecOutput}." };
        var maxExec = new Option<int>("--max-commands") { Description = $"Commands running at once. Default {defaults.MaxCommands}." };
        var execUser = new Option<string>("--exec-user") { Description = $"OS account of commands when the server runs as root and the user has no os_user. Default {defaults.ExecUser}." };
        var execOpenFiles = ExecLimit("--exec-limit-open-files", "Open files per command process (RLIMIT_NOFILE)", defaults.ExecLimits.OpenFiles);
        var execProcesses = ExecLimit("--exec-limit-processes", "Processes of the command's account (RLIMIT_NPROC)", defaults.ExecLimits.Processes);
        var execCpuSeconds = ExecLimit("--exec-limit-cpu-seconds", "CPU seconds per command process (RLIMIT_CPU)", defaults.ExecLimits.CpuSeconds);
        var execAddressSpace = ExecLimit("--exec-limit-address-space", "Bytes of address space per command process (RLIMIT_AS)", defaults.ExecLimits.AddressSpace);
        var fileMode = new Option<string>("--file-mode") { Description = $"Permissions of uploaded files, octal (folders get the matching search bits). Default {defaults.FileMode}." };
        var usersCheckInterval = new Option<double>("--users-check-interval") { Description = $"Seconds between checks of the users file for changes; 0 turns the check off. Default {defaults.UsersCheckInterval}." };
        var loginGrace = new Option<double>("--login-grace-time") { Description = $"Seconds a connection has to log in before it is closed with login_timeout. Default {defaults.LoginGraceTime}." };
        var maxUnauthenticated = new Option<int>("--max-unauthenticated-connections") { Description = $"Connections not yet logged in held at once; past it the idlest is shed. Default {defaults.MaxUnauthenticatedConnections}." };
        var maxUnauthenticatedPerAddress = new Option<int>("--max-unauthenticated-connections-per-address")
        {
            Description = $"Connections not yet logged in held at once per client address (IPv6: per /64). Default {defaults.MaxUnauthenticatedConnectionsPerAddress}.",
        };
        var minIdleBeforeShed = new Option<double>("--min-idle-before-shed")
        {
            Description = $"Seconds a connection not yet logged in must have been idle before a newcomer may shed it (less than --login-grace-time). Default {defaults.MinIdleBeforeShed}.",
        };
        var maxTlsHandshakes = new Option<int>("--max-tls-handshakes") { Description = $"TLS handshakes in progress at once; others wait for a turn. Default {defaults.MaxTlsHandshakes}." };
        var tlsHandshakeTimeout = new Option<double>("--tls-handshake-timeout") { Description = $"Seconds a TLS handshake may take once it has its turn. Default {defaults.TlsHandshakeTimeout}." };
        var maxAuthFailures = new Option<int>("--max-auth-failures") { Description = $"Failed logins from one client network within --auth-failure-window before it is refused. Default {defaults.MaxAuthFailures}." };
        var maxAuthFailuresTotal = new Option<int>("--max-auth-failures-total")
        {
            Description = $"Failed logins across the server within --auth-failure-window after which every network that failed lately is refused. Default {defaults.MaxAuthFailuresTotal}.",
        };
        var authFailureWindow = new Option<double>("--auth-failure-window") { Description = $"Seconds over which failed logins are counted. Default {defaults.AuthFailureWindow}." };
        var authFailureDelay = new Option<double>("--auth-failure-delay") { Description = $"Seconds a failed login waits before its answer. Default {defaults.AuthFailureDelay}." };
        var maxAuthThrottleNetworks = new Option<int>("--max-auth-throttle-networks") { Description = $"Client networks the login throttle remembers at most. Default {defaults.MaxAuthThrottleNetworks}." };
        var maxOpenUploads = new Option<int>("--max-open-uploads") { Description = $"Uploads open at once across the server; more get too_many_uploads. Default {defaults.MaxOpenUploads}." };
        var maxOpenUploadsPerUser = new Option<int>("--max-open-uploads-per-user") { Description = $"Uploads one user may have open at once. Default {defaults.MaxOpenUploadsPerUser}." };
        var udpReplayWindow = new Option<double>("--udp-replay-window") { Description = $"Seconds a UDP datagram's timestamp may be off the server's clock. Default {defaults.UdpReplayWindow}." };
        var udpResultRetention = new Option<double>("--udp-result-retention") { Description = $"Seconds a UDP result is kept for retransmission (at least twice the replay window). Default {defaults.UdpResultRetention}." };
        var maxUdpOutput = new Option<long>("--max-udp-output") { Description = $"Bytes of output kept per UDP command; the rest is cut with a marker. Default {defaults.MaxUdpOutput}." };
        var maxUdpResultBytesPerUser = new Option<long>("--max-udp-result-bytes-per-user")
        {
            Description = $"Bytes of UDP results kept per user; a larger result is refused with result_budget_exceeded. Default {defaults.MaxUdpResultBytesPerUser}.",
        };
        var maxUdpResultBytes = new Option<long>("--max-udp-result-bytes") { Description = $"Bytes of UDP results kept across all users. Default {defaults.MaxUdpResultBytes}." };
        var maxUdpRequestsPerUser = new Option<int>("--max-udp-requests-per-user") { Description = $"UDP requests remembered per user; more are refused with udp_request_limit. Default {defaults.MaxUdpRequestsPerUser}." };
        var maxUdpRequests = new Option<int>("--max-udp-requests") { Description = $"UDP requests remembered across all users. Default {defaults.MaxUdpRequests}." };
        var logLevel = new Option<LogLevel>("--log-level") { Description = $"Least severe log level shown. Default {defaults.LogLevel}." };
        var metricsListen = new Option<string?>("--metrics-listen")
        {
            Description = "Serve Prometheus metrics at http://IP:PORT/metrics. Unauthenticated: loopback only unless metrics_allow_remote is set in the settings.",
        };

        var command = new Command("serve", "Run the Ferry server.\n\nExamples:\n  ferry serve\n  ferry serve --listen 127.0.0.1:7447 --listen [::1]:7447 --root /srv/ferry\n  ferry serve --config /etc/ferry/ferry.json --print-config")
        {
            config, printConfig, listen, root, maxConnections, headerTimeout, idleTimeout, grace, maxHeader, noAuth, plain, tlsCertificate, stateDir, usersFile,
            auditLog, store, natsReplicas, natsUser, natsPasswordFile, natsCredsFile, natsTlsCa, natsTlsCert, natsTlsKey, auditStream, auditStreamMaxAge, perUser, perAddress, quota, partialTtl, allowExec, udpListen, execTimeout, maxExecOutput, maxExec, logLevel, metricsListen,
            execUnconfined, execSandbox, execUser, execOpenFiles, execProcesses, execCpuSeconds, execAddressSpace, fileMode, usersCheckInterval,
            loginGrace, maxUnauthenticated, maxUnauthenticatedPerAddress, minIdleBeforeShed, maxTlsHandshakes, tlsHandshakeTimeout,
            maxAuthFailures, maxAuthFailuresTotal, authFailureWindow, authFailureDelay, maxAuthThrottleNetworks, maxOpenUploads, maxOpenUploadsPerUser,
            udpReplayWindow, udpResultRetention, maxUdpOutput, maxUdpResultBytesPerUser, maxUdpResultBytes, maxUdpRequestsPerUser, maxUdpRequests,
        };

        command.SetAction(async (parse, ct) =>
        {
            var error = parse.InvocationConfiguration.Error;

            // Options given on the command line override the file and the environment; options left out leave them be.
            void CommandLine(ServeSettings s)
            {
                Given(listen, v => s.Listen = v);
                Given(root, v => s.Root = v);
                Given(maxConnections, v => s.MaxConnections = v);
                Given(headerTimeout, v => s.HeaderTimeout = v);
                Given(idleTimeout, v => s.IdleTimeout = v);
                Given(grace, v => s.ShutdownGrace = v);
                Given(maxHeader, v => s.MaxHeaderBytes = v);
                Given(noAuth, v => s.InsecureNoAuth = v);
                Given(plain, v => s.Plain = v);
                Given(tlsCertificate, v => s.TlsCertificate = v);
                Given(stateDir, v => s.StateDir = v);
                Given(usersFile, v => s.UsersFile = v);
                Given(auditLog, v => s.AuditLog = v);
                Given(store, v => s.Store = v);
                Given(natsReplicas, v => s.NatsReplicas = v);
                Given(natsUser, v => s.NatsUser = v);
                Given(natsPasswordFile, v => s.NatsPasswordFile = v);
                Given(natsCredsFile, v => s.NatsCredsFile = v);
                Given(natsTlsCa, v => s.NatsTlsCa = v);
                Given(natsTlsCert, v => s.NatsTlsCert = v);
                Given(natsTlsKey, v => s.NatsTlsKey = v);
                Given(auditStream, v => s.AuditStream = v);
                Given(auditStreamMaxAge, v => s.AuditStreamMaxAge = v);
                Given(perUser, v => s.MaxConnectionsPerUser = v);
                Given(perAddress, v => s.MaxConnectionsPerAddress = v);
                Given(quota, v => s.Quota = v);
                Given(partialTtl, v => s.PartialTtl = v);
                Given(allowExec, v => s.AllowExec = v);
                Given(udpListen, v => s.UdpListen = v);
                Given(execTimeout, v => s.ExecTimeout = v);
                Given(maxExecOutput, v => s.MaxExecOutput = v);
                Given(maxExec, v => s.MaxCommands = v);
                Given(logLevel, v => s.LogLevel = v.ToString());
                Given(metricsListen, v => s.MetricsListen = v);
                Given(execUnconfined, v => s.ExecUnconfined = v);
                Given(execSandbox, v => s.ExecSandbox = v);
                Given(execUser, v => s.ExecUser = v);
                Given(execOpenFiles, v => s.ExecLimits.OpenFiles = ParseExecLimit(v));
                Given(execProcesses, v => s.ExecLimits.Processes = ParseExecLimit(v));
                Given(execCpuSeconds, v => s.ExecLimits.CpuSeconds = ParseExecLimit(v));
                Given(execAddressSpace, v => s.ExecLimits.AddressSpace = ParseExecLimit(v));
                Given(fileMode, v => s.FileMode = v);
                Given(usersCheckInterval, v => s.UsersCheckInterval = v);
                Given(loginGrace, v => s.LoginGraceTime = v);
                Given(maxUnauthenticated, v => s.MaxUnauthenticatedConnections = v);
                Given(maxUnauthenticatedPerAddress, v => s.MaxUnauthenticatedConnectionsPerAddress = v);
                Given(minIdleBeforeShed, v => s.MinIdleBeforeShed = v);
                Given(maxTlsHandshakes, v => s.MaxTlsHandshakes = v);
                Given(tlsHandshakeTimeout, v => s.TlsHandshakeTimeout = v);
                Given(maxAuthFailures, v => s.MaxAuthFailures = v);
                Given(maxAuthFailuresTotal, v => s.MaxAuthFailuresTotal = v);
                Given(authFailureWindow, v => s.AuthFailureWindow = v);
                Given(authFailureDelay, v => s.AuthFailureDelay = v);
                Given(maxAuthThrottleNetworks, v => s.MaxAuthThrottleNetworks = v);
                Given(maxOpenUploads, v => s.MaxOpenUploads = v);
                Given(maxOpenUploadsPerUser, v => s.MaxOpenUploadsPerUser = v);
                Given(udpReplayWindow, v => s.UdpReplayWindow = v);
                Given(udpResultRetention, v => s.UdpResultRetention = v);
                Given(maxUdpOutput, v => s.MaxUdpOutput = v);
                Given(maxUdpResultBytesPerUser, v => s.MaxUdpResultBytesPerUser = v);
                Given(maxUdpResultBytes, v => s.MaxUdpResultBytes = v);
                Given(maxUdpRequestsPerUser, v => s.MaxUdpRequestsPerUser = v);
                Given(maxUdpRequests, v => s.MaxUdpRequests = v);
            }

            void Given<T>(Option<T> option, Action<T> apply)
            {
                if (parse.GetResult(option) is { Implicit: false })
                    apply(parse.GetValue(option)!);
            }

            var loaded = ServeConfiguration.Load(parse.GetValue(config), CommandLine);
            if (loaded.Settings is not { } settings)
            {
                foreach (var problem in loaded.Errors)
                    await error.WriteLineAsync($"ferry serve: {problem}").ConfigureAwait(false);
                return ExitCodes.Usage;
            }
            if (parse.GetValue(printConfig))
            {
                await parse.InvocationConfiguration.Output.WriteLineAsync(
                    JsonSerializer.Serialize(settings.Redacted(), ServeSettingsJsonContext.Default.ServeSettings)).ConfigureAwait(false);
                return ExitCodes.Success;
            }
            return await RunAsync(settings, loaded.ConfigFile, error, ct).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>An exec_limits value: a whole number, or "none" for no limit (null in the settings file).</summary>
    private static Option<string> ExecLimit(string name, string what, long? defaultValue)
    {
        var option = new Option<string>(name)
        {
            Description = $"{what}; 'none' for no limit. Default {defaultValue?.ToString(CultureInfo.InvariantCulture) ?? "none"}.",
            HelpName = "N|none",
        };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>() is { } text && !TryParseExecLimit(text, out _))
                result.AddError($"{name}: '{text}' is not a whole number or none.");
        });
        return option;
    }

    // Zero and negative numbers pass here; they are refused with the other settings, naming exec_limits.
    private static bool TryParseExecLimit(string text, out long? limit)
    {
        limit = null;
        if (string.Equals(text, "none", StringComparison.OrdinalIgnoreCase))
            return true;
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            return false;
        limit = value;
        return true;
    }

    private static long? ParseExecLimit(string text) => TryParseExecLimit(text, out var limit) ? limit : throw new FormatException($"'{text}' is not an exec limit.");

    private static async Task<int> RunAsync(ServeSettings settings, string? configFile, TextWriter error, CancellationToken ct)
    {
        var options = settings.ToServerOptions();
        try
        {
            options.Validate(); // the settings were checked; this guards the mapping
        }
        catch (ArgumentException ex)
        {
            await error.WriteLineAsync($"ferry serve: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(settings.ParsedLogLevel);
        if (SystemdHelpers.IsSystemdService())
        {
            // journald adds its own timestamps; the systemd format gives each line its syslog priority.
            builder.Logging.AddSystemdConsole(o => o.IncludeScopes = true);
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.IncludeScopes = true;
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        }
        builder.Services.AddSystemd(); // Type=notify: READY=1 once listening, STOPPING=1 on the way down
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownGrace + TimeSpan.FromSeconds(5));
        if (settings.ToNatsStoreSettings() is { } nats)
        {
            try
            {
                await builder.Services.AddFerryNatsStoreAsync(nats, ct).ConfigureAwait(false);
            }
            catch (Ferry.Protocol.Errors.FerryException ex)
            {
                await error.WriteLineAsync($"ferry serve: store: {ex.Message}").ConfigureAwait(false);
                return ex.Code == Ferry.Protocol.Errors.FerryErrorCode.FieldInvalid ? ExitCodes.Usage : ExitCodes.Unreachable;
            }
        }
        builder.Services.AddFerryServer(options);

        // SIGHUP loads the users file again (systemctl reload ferry). Registered before anything is announced, because
        // without a handler the signal ends the process; one that arrives before the users are first loaded has nothing
        // to do, since that first load reads the file as it is then.
        UsersFileReloader? reloader = null;
        using var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            Volatile.Read(ref reloader)?.Reload("SIGHUP");
        });

        MeterProvider? metrics = null;
        IHost? host = null;
        try
        {
            if (settings.MetricsEndPoint() is { } metricsEndPoint)
            {
                try
                {
                    metrics = MetricsEndpoint.Start(metricsEndPoint);
                }
                catch (InvalidOperationException ex) when (ex.InnerException is HttpListenerException or SocketException)
                {
                    // The exporter wraps the listener's own error.
                    await error.WriteLineAsync($"ferry serve: metrics_listen: cannot listen on {metricsEndPoint}: {ex.InnerException.Message}. Pick another port.")
                        .ConfigureAwait(false);
                    return ExitCodes.Usage;
                }
            }

            try
            {
                host = builder.Build();
                var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Ferry.Serve");
                ServeLog.Settings(logger, configFile ?? "(no file)");
                if (settings.MetricsEndPoint() is { } served)
                    ServeLog.Metrics(logger, $"http://{served}/metrics"); // IPEndPoint writes [::1]:PORT for IPv6
                // Loads the users; from here on a SIGHUP reloads them.
                Volatile.Write(ref reloader, host.Services.GetRequiredService<UsersFileReloader>());
                await host.StartAsync(ct).ConfigureAwait(false);
            }
            catch (Ferry.Server.Exec.ExecSandboxUnavailableException ex)
            {
                await error.WriteLineAsync($"ferry serve: {ex.Message}").ConfigureAwait(false);
                return ExitCodes.Usage;
            }
            catch (InvalidDataException ex)
            {
                await error.WriteLineAsync($"ferry serve: {ex.Message}").ConfigureAwait(false);
                return ExitCodes.Usage;
            }
            catch (SocketException ex)
            {
                await error.WriteLineAsync($"ferry serve: cannot listen on {string.Join(", ", options.Listen)}: {ex.Message}. Pick another --listen port.")
                    .ConfigureAwait(false);
                return ExitCodes.Usage;
            }

            try
            {
                await host.WaitForShutdownAsync(ct).ConfigureAwait(false);
            }
            finally
            {
                await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }
            return ExitCodes.Success;
        }
        finally
        {
            host?.Dispose();
            metrics?.Dispose();
        }
    }
}

/// <summary>Log lines of <c>ferry serve</c> itself (1200s).</summary>
internal static partial class ServeLog
{
    [LoggerMessage(Ferry.Server.Logging.LogEvents.ServeSettings, LogLevel.Information, "Settings from {ConfigFile}, FERRY_ environment variables and the command line")]
    public static partial void Settings(ILogger logger, string configFile);

    [LoggerMessage(Ferry.Server.Logging.LogEvents.ServeMetrics, LogLevel.Information, "Metrics at {Url} (no authentication)")]
    public static partial void Metrics(ILogger logger, string url);
}
