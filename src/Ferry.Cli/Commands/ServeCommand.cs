using System.CommandLine;
using System.Net;
using Ferry.Client;
using Ferry.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ferry.Cli.Commands;

internal static class ServeCommand
{
    public static Command Create()
    {
        var listen = new Option<string[]>("--listen", "-l")
        {
            Description = $"Address to listen on, IP:PORT; repeat for several (IPv4 and IPv6). Default 127.0.0.1:{FerryServerOptions.DefaultPort}.",
            AllowMultipleArgumentsPerToken = false,
        };
        var root = new Option<string>("--root", "-r") { Description = "Folder to serve. Default ./ferry-data (created if missing).", DefaultValueFactory = _ => "ferry-data" };
        var maxConnections = new Option<int>("--max-connections") { Description = "Connections served at once; more are refused with server_busy.", DefaultValueFactory = _ => 1000 };
        var headerTimeout = new Option<double>("--header-timeout") { Description = "Seconds from a frame's first byte to its complete header.", DefaultValueFactory = _ => 10 };
        var idleTimeout = new Option<double>("--idle-timeout") { Description = "Seconds a connection may stay silent.", DefaultValueFactory = _ => 300 };
        var grace = new Option<double>("--shutdown-grace") { Description = "Seconds that work in flight may take to finish on Ctrl-C or SIGTERM.", DefaultValueFactory = _ => 10 };
        var maxHeader = new Option<int>("--max-header-bytes") { Description = "Largest frame header accepted, in bytes.", DefaultValueFactory = _ => 64 * 1024 };
        var noAuth = new Option<bool>("--insecure-no-auth") { Description = "No login, plain TCP, and classic clients that send no hello are accepted. Only for loopback or trusted networks." };
        var plain = new Option<bool>("--plain") { Description = "Plain TCP instead of TLS (logins still required; frames carry MACs). Anyone on the path can read the traffic." };
        var stateDir = new Option<string>("--state-dir") { Description = "Folder for the server's certificate and users file.", DefaultValueFactory = _ => "ferry-server" };
        var usersFile = new Option<string?>("--users") { Description = "Users file (default: users.json in --state-dir)." };
        var auditLog = new Option<string?>("--audit-log") { Description = "Append an audit log (JSON lines: logins, failures, commands) to this file." };
        var perUser = new Option<int>("--max-connections-per-user") { Description = "Connections one user may have open.", DefaultValueFactory = _ => 32 };
        var perAddress = new Option<int>("--max-connections-per-address") { Description = "Connections one client address may have open.", DefaultValueFactory = _ => 256 };
        var quota = new Option<long?>("--quota") { Description = "Byte quota for the files under the root; uploads that would exceed it are refused before any data is sent. Default: none." };
        var partialTtl = new Option<double>("--partial-ttl") { Description = "Hours an unfinished upload is kept for resume.", DefaultValueFactory = _ => 24 };
        var allowExec = new Option<bool>("--allow-exec") { Description = "Run commands for users with the exec permission (ferry exec, ferry shell)." };
        var udpListen = new Option<string?>("--udp-listen") { Description = "Also accept commands over UDP on IP:PORT (ferry exec --udp)." };
        var execTimeout = new Option<double>("--exec-timeout") { Description = "Seconds a command may run before its process tree is killed.", DefaultValueFactory = _ => 3600 };
        var maxExecOutput = new Option<long>("--max-exec-output") { Description = "Bytes of output forwarded per command; the rest is cut with a marker.", DefaultValueFactory = _ => 1L << 30 };
        var maxExec = new Option<int>("--max-commands") { Description = "Commands running at once.", DefaultValueFactory = _ => 16 };
        var logLevel = new Option<LogLevel>("--log-level") { Description = "Least severe log level shown.", DefaultValueFactory = _ => LogLevel.Information };

        var command = new Command("serve", "Run the Ferry server.\n\nExamples:\n  ferry serve\n  ferry serve --listen 127.0.0.1:7447 --listen [::1]:7447 --root /srv/ferry")
        {
            listen, root, maxConnections, headerTimeout, idleTimeout, grace, maxHeader, noAuth, plain, stateDir, usersFile, auditLog, perUser, perAddress, quota, partialTtl, allowExec, udpListen, execTimeout, maxExecOutput, maxExec, logLevel,
        };

        command.SetAction(async (parse, ct) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var endPoints = new List<IPEndPoint>();
            foreach (var text in parse.GetValue(listen) is { Length: > 0 } given ? given : [$"127.0.0.1:{FerryServerOptions.DefaultPort}"])
            {
                if (!ServerAddress.TryParseListen(text, out var endPoint, out var problem))
                {
                    await error.WriteLineAsync($"ferry serve: --listen: {problem}").ConfigureAwait(false);
                    return ExitCodes.Usage;
                }
                endPoints.Add(endPoint);
            }

            IPEndPoint? udpEndPoint = null;
            if (parse.GetValue(udpListen) is { } udpText && !ServerAddress.TryParseListen(udpText, out udpEndPoint, out var udpProblem))
            {
                await error.WriteLineAsync($"ferry serve: --udp-listen: {udpProblem}").ConfigureAwait(false);
                return ExitCodes.Usage;
            }

            FerryServerOptions options;
            try
            {
                options = new FerryServerOptions
                {
                    Listen = endPoints,
                    Root = parse.GetValue(root)!,
                    MaxConnections = parse.GetValue(maxConnections),
                    HeaderTimeout = Seconds(parse.GetValue(headerTimeout), "--header-timeout"),
                    IdleTimeout = Seconds(parse.GetValue(idleTimeout), "--idle-timeout"),
                    ShutdownGrace = Seconds(parse.GetValue(grace), "--shutdown-grace"),
                    Frames = new() { MaxHeaderBytes = parse.GetValue(maxHeader) },
                    InsecureNoAuth = parse.GetValue(noAuth),
                    RequireAuthentication = !parse.GetValue(noAuth),
                    UseTls = !parse.GetValue(noAuth) && !parse.GetValue(plain),
                    StateDirectory = parse.GetValue(stateDir)!,
                    UsersFile = parse.GetValue(usersFile),
                    AuditLogPath = parse.GetValue(auditLog),
                    MaxConnectionsPerUser = parse.GetValue(perUser),
                    MaxConnectionsPerAddress = parse.GetValue(perAddress),
                    QuotaBytes = parse.GetValue(quota),
                    AllowExec = parse.GetValue(allowExec),
                    UdpListen = udpEndPoint,
                    ExecTimeout = Seconds(parse.GetValue(execTimeout), "--exec-timeout"),
                    MaxExecOutputBytes = parse.GetValue(maxExecOutput),
                    MaxConcurrentExec = parse.GetValue(maxExec),
                    PartialUploadTtl = Seconds(parse.GetValue(partialTtl) * 3600, "--partial-ttl"),
                };
                options.Validate();
            }
            catch (ArgumentException ex)
            {
                await error.WriteLineAsync($"ferry serve: {ex.Message}").ConfigureAwait(false);
                return ExitCodes.Usage;
            }

            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], DisableDefaults = true });
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(parse.GetValue(logLevel));
            builder.Logging.AddSimpleConsole(o =>
            {
                o.IncludeScopes = true;
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownGrace + TimeSpan.FromSeconds(5));
            builder.Services.AddFerryServer(options);

            IHost host;
            try
            {
                host = builder.Build();
                await host.StartAsync(ct).ConfigureAwait(false);
            }
            catch (InvalidDataException ex)
            {
                await error.WriteLineAsync($"ferry serve: {ex.Message}").ConfigureAwait(false);
                return ExitCodes.Usage;
            }
            catch (System.Net.Sockets.SocketException ex)
            {
                await error.WriteLineAsync($"ferry serve: cannot listen on {string.Join(", ", endPoints)}: {ex.Message}. Pick another --listen port.")
                    .ConfigureAwait(false);
                return ExitCodes.Usage;
            }
            using (host)
            {
                try
                {
                    await host.WaitForShutdownAsync(ct).ConfigureAwait(false);
                }
                finally
                {
                    await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static TimeSpan Seconds(double value, string option) =>
        value > 0 && double.IsFinite(value) && value <= TimeSpan.MaxValue.TotalSeconds / 2
            ? TimeSpan.FromSeconds(value)
            : throw new ArgumentException($"{option} must be a positive number of seconds, not {value}.");
}
