using System.CommandLine;
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
        var grace = new Option<double>("--shutdown-grace") { Description = $"Seconds that work in flight may take to finish on Ctrl-C or SIGTERM. Default {defaults.ShutdownGrace}." };
        var maxHeader = new Option<int>("--max-header-bytes") { Description = $"Largest frame header accepted, in bytes. Default {defaults.MaxHeaderBytes}." };
        var noAuth = new Option<bool>("--insecure-no-auth") { Description = "No login, plain TCP, and classic clients that send no hello are accepted. Only for loopback or trusted networks." };
        var plain = new Option<bool>("--plain") { Description = "Plain TCP instead of TLS (logins still required; frames carry MACs). Anyone on the path can read the traffic." };
        var tlsCertificate = new Option<string?>("--tls-certificate") { Description = "PKCS#12 file with the TLS certificate and key to use instead of the self-signed one (password: tls_certificate_password in the file or FERRY_TLS_CERTIFICATE_PASSWORD)." };
        var stateDir = new Option<string>("--state-dir") { Description = $"Folder for the server's certificate and users file. Default ./{defaults.StateDir}." };
        var usersFile = new Option<string?>("--users") { Description = "Users file (default: users.json in --state-dir). Changes to it are picked up while the server runs; SIGHUP reloads it at once." };
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
        var logLevel = new Option<LogLevel>("--log-level") { Description = $"Least severe log level shown. Default {defaults.LogLevel}." };
        var metricsListen = new Option<string?>("--metrics-listen")
        {
            Description = "Serve Prometheus metrics at http://IP:PORT/metrics. Unauthenticated: loopback only unless metrics_allow_remote is set in the settings.",
        };

        var command = new Command("serve", "Run the Ferry server.\n\nExamples:\n  ferry serve\n  ferry serve --listen 127.0.0.1:7447 --listen [::1]:7447 --root /srv/ferry\n  ferry serve --config /etc/ferry/ferry.json --print-config")
        {
            config, printConfig, listen, root, maxConnections, headerTimeout, idleTimeout, grace, maxHeader, noAuth, plain, tlsCertificate, stateDir, usersFile,
            auditLog, perUser, perAddress, quota, partialTtl, allowExec, udpListen, execTimeout, maxExecOutput, maxExec, logLevel, metricsListen,
            execUnconfined, execSandbox,
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
