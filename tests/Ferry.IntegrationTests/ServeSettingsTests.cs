using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Ferry.Cli.Serving;
using Ferry.Server.Hosting;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// Where 'ferry serve' takes its settings from — a JSON file, FERRY_ environment variables, the command line — and how
/// it refuses bad ones, run as the real executable.
/// </summary>
public class ServeSettingsTests
{
    private static async Task<(int Code, string Out, string Err)> Ferry(string workingDirectory, IDictionary<string, string>? environment, params string[] args)
    {
        await using var p = FerryProcess.Start(args, workingDirectory, environment);
        await p.WaitForExitAsync();
        return (p.ExitCode, p.Stdout, p.Stderr);
    }

    private static async Task<JsonElement> PrintConfigAsync(string workingDirectory, IDictionary<string, string>? environment, params string[] args)
    {
        var (code, stdout, stderr) = await Ferry(workingDirectory, environment, ["serve", .. args, "--print-config"]);
        Assert.True(code == 0, stderr);
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }

    [Fact]
    public async Task The_file_is_overridden_by_the_environment_which_is_overridden_by_the_command_line()
    {
        using var work = new TempDirectory("ferry-settings");
        var file = work.Combine("ferry.json");
        await File.WriteAllTextAsync(file, """
            {
              "listen": ["127.0.0.1:7001", "[::1]:7001"],
              "root": "/srv/from-file",
              "max_connections": 5,
              "idle_timeout": 11,
              "header_timeout": 4,
              "allow_exec": true
            }
            """);
        var environment = new Dictionary<string, string>
        {
            ["FERRY_IDLE_TIMEOUT"] = "22",
            ["FERRY_ROOT"] = "/srv/from-env",
            ["FERRY_MAX_COMMANDS"] = "3",
        };

        var fileOnly = await PrintConfigAsync(work.Path, null, "--config", file);
        Assert.Equal("/srv/from-file", fileOnly.GetProperty("root").GetString());
        Assert.Equal(11, fileOnly.GetProperty("idle_timeout").GetDouble());
        Assert.Equal(16, fileOnly.GetProperty("max_commands").GetInt32()); // the default

        var withEnvironment = await PrintConfigAsync(work.Path, environment, "--config", file);
        Assert.Equal("/srv/from-env", withEnvironment.GetProperty("root").GetString());
        Assert.Equal(22, withEnvironment.GetProperty("idle_timeout").GetDouble());
        Assert.Equal(3, withEnvironment.GetProperty("max_commands").GetInt32());
        Assert.Equal(5, withEnvironment.GetProperty("max_connections").GetInt32()); // the file's, untouched

        var withCommandLine = await PrintConfigAsync(work.Path, environment, "--config", file, "--root", "/srv/from-cli", "--listen", "127.0.0.1:7002");
        Assert.Equal("/srv/from-cli", withCommandLine.GetProperty("root").GetString());
        Assert.Equal<string>(["127.0.0.1:7002"], withCommandLine.GetProperty("listen").EnumerateArray().Select(e => e.GetString()!).ToArray()); // replaced, not merged
        // Options not given on the command line leave the file and the environment alone, defaults and all.
        Assert.Equal(22, withCommandLine.GetProperty("idle_timeout").GetDouble());
        Assert.Equal(4, withCommandLine.GetProperty("header_timeout").GetDouble());
        Assert.Equal(5, withCommandLine.GetProperty("max_connections").GetInt32());
        Assert.True(withCommandLine.GetProperty("allow_exec").GetBoolean());

        var listenFromEnvironment = await PrintConfigAsync(work.Path, new Dictionary<string, string> { ["FERRY_LISTEN__0"] = "127.0.0.1:7003" });
        Assert.Equal<string>(["127.0.0.1:7003"], listenFromEnvironment.GetProperty("listen").EnumerateArray().Select(e => e.GetString()!).ToArray());
    }

    [Fact]
    public async Task A_server_runs_with_the_settings_of_its_file()
    {
        using var work = new TempDirectory("ferry-settings");
        var root = work.Combine("served");
        var file = work.Combine("ferry.json");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["listen"] = new[] { "127.0.0.1:0" },
            ["root"] = root,
            ["insecure_no_auth"] = true,
        }));
        await using var server = FerryProcess.Start(["serve", "--config", file], work.Path);
        var address = await server.WaitForListeningAsync();
        Assert.Contains(file, await server.WaitForOutputAsync("Settings from"));

        await File.WriteAllTextAsync(work.Combine("note.txt"), "configured");
        var put = await Ferry(work.Path, null, "put", "--plain", "--server", address, "-q", "note.txt");
        Assert.True(put.Code == 0, put.Err);
        Assert.Equal("configured", await File.ReadAllTextAsync(Path.Combine(root, "note.txt")));
    }

    public static TheoryData<string, string, string, string> BadSettings => new()
    {
        // where, key, value, what the message must say after "ferry serve: "
        { "cli", "--header-timeout", "-1", "header_timeout: must be a positive number of seconds, not -1" },
        { "env", "FERRY_IDLE_TIMEOUT", "-5", "idle_timeout: must be a positive number of seconds, not -5" },
        { "file", "shutdown_grace", "-1", "shutdown_grace: must be a number of seconds from 0 up, not -1" },
        { "file", "listen", "example.com:80", "listen: 'example.com' is not an IP address" },
        { "cli", "--listen", "127.0.0.1:70000", "listen: '70000' in '127.0.0.1:70000' is not a port number (0-65535)" },
        { "env", "FERRY_LOG_LEVEL", "Verbose", "log_level: 'Verbose' is not a log level" },
        { "env", "FERRY_MAX_CONNECTIONS", "many", "max_connections: 'many' is not a whole number" },
        { "file", "max_commands", "0", "max_commands: must be at least 1, not 0" },
        { "file", "users_file", "/nonexistent/ferry/users.json", "users_file: /nonexistent/ferry/users.json does not exist" },
        { "env", "FERRY_METRICS_LISTEN", "0.0.0.0:9464", "metrics_listen: 0.0.0.0:9464 is not a loopback address" },
        { "cli", "--metrics-listen", "127.0.0.1:0", "metrics_listen: '127.0.0.1:0' needs a real port" },
        { "file", "max_conections", "5", "max_conections: not a setting" },
        { "file", "quota", "-1", "quota: must be a number of bytes, not -1" },
        // UDP commands
        { "cli", "--max-udp-requests", "0", "max_udp_requests: must be at least 1, not 0" },
        { "cli", "--max-udp-requests-per-user", "-3", "max_udp_requests_per_user: must be at least 1, not -3" },
        { "env", "FERRY_MAX_UDP_REQUESTS", "1e9", "max_udp_requests: '1e9' is not a whole number" },
        { "cli", "--max-udp-result-bytes", "0", "max_udp_result_bytes: must be at least 4096 bytes" },
        { "env", "FERRY_MAX_UDP_RESULT_BYTES_PER_USER", "1000", "max_udp_result_bytes_per_user: must be at least 4096 bytes (room for a result's head and some output), not 1000" },
        { "cli", "--max-udp-output", "-1", "max_udp_output: must be a number of bytes, not -1" },
        { "cli", "--udp-replay-window", "NaN", "udp_replay_window: must be a positive number of seconds, not NaN" },
        { "cli", "--udp-replay-window", "1e300", "udp_replay_window: must be a positive number of seconds, not 1E+300" },
        { "file", "udp_result_retention", "0", "udp_result_retention: must be a positive number of seconds, not 0" },
        // connections and logins
        { "cli", "--min-idle-before-shed", "-1", "min_idle_before_shed: must be a number of seconds from 0 up, not -1" },
        { "cli", "--min-idle-before-shed", "30", "min_idle_before_shed: must be shorter than login_grace_time (20 s), not 30" },
        { "cli", "--login-grace-time", "NaN", "login_grace_time: must be a positive number of seconds, not NaN" },
        { "cli", "--max-unauthenticated-connections", "0", "max_unauthenticated_connections: must be at least 1, not 0" },
        { "cli", "--max-unauthenticated-connections-per-address", "-1", "max_unauthenticated_connections_per_address: must be at least 1, not -1" },
        { "cli", "--max-tls-handshakes", "0", "max_tls_handshakes: must be at least 1, not 0" },
        { "cli", "--tls-handshake-timeout", "0", "tls_handshake_timeout: must be a positive number of seconds, not 0" },
        { "cli", "--max-auth-failures", "0", "max_auth_failures: must be at least 1, not 0" },
        { "cli", "--max-auth-failures-total", "-1", "max_auth_failures_total: must be at least 1, not -1" },
        { "env", "FERRY_AUTH_FAILURE_WINDOW", "0", "auth_failure_window: must be a positive number of seconds, not 0" },
        { "cli", "--auth-failure-delay", "-1", "auth_failure_delay: must be a number of seconds from 0 up, not -1" },
        { "cli", "--auth-failure-delay", "Infinity", "auth_failure_delay: must be a number of seconds from 0 up, not Infinity" },
        { "cli", "--max-auth-throttle-networks", "0", "max_auth_throttle_networks: must be at least 1, not 0" },
        { "cli", "--max-open-uploads", "0", "max_open_uploads: must be at least 1, not 0" },
        { "cli", "--max-open-uploads-per-user", "-2", "max_open_uploads_per_user: must be at least 1, not -2" },
        { "cli", "--users-check-interval", "-1", "users_check_interval: must be a number of seconds (0 turns the check off) from 0 up, not -1" },
        // commands
        { "cli", "--exec-limit-open-files", "0", "exec_limits.open_files: must be positive, not 0" },
        { "cli", "--exec-limit-processes", "-1", "exec_limits.processes: must be positive, not -1" },
        { "cli", "--exec-limit-cpu-seconds", "0", "exec_limits.cpu_seconds: must be positive, not 0" },
        { "env", "FERRY_EXEC_LIMITS__ADDRESS_SPACE", "-4096", "exec_limits.address_space: must be positive, not -4096" },
        { "cli", "--exec-user", "root", "exec_user: 'root' is not the name of an unprivileged OS account" },
        { "cli", "--file-mode", "0755", "file_mode: '0755' must be an octal mode" },
        { "cli", "--exec-timeout", "NaN", "exec_timeout: must be a positive number of seconds, not NaN" },
        { "cli", "--max-exec-output", "-1", "max_exec_output: must be a number of bytes, not -1" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task A_bad_setting_stops_the_server_with_exit_code_2_and_names_the_setting(string where, string key, string value, string message)
    {
        using var work = new TempDirectory("ferry-settings");
        var file = work.Combine("ferry.json");
        await File.WriteAllTextAsync(file, where == "file"
            ? $$"""{ "{{key}}": {{(key == "listen" ? $"[\"{value}\"]" : double.TryParse(value, out _) ? value : $"\"{value}\"")}} }"""
            : "{}");
        var environment = where == "env" ? new Dictionary<string, string> { [key] = value } : null;
        string[] args = where == "cli"
            ? ["serve", "--config", file, "--state-dir", work.Combine("state"), key, value]
            : ["serve", "--config", file, "--state-dir", work.Combine("state")];

        var (code, _, stderr) = await Ferry(work.Path, environment, args);

        Assert.Equal(2, code);
        Assert.Contains($"ferry serve: {message}", stderr);
        Assert.DoesNotContain("Listening on", stderr);
    }

    [Fact]
    public async Task An_exec_limit_that_is_neither_a_number_nor_none_is_a_usage_error_naming_the_option()
    {
        using var work = new TempDirectory("ferry-settings");
        var (code, _, stderr) = await Ferry(work.Path, null, "serve", "--exec-limit-processes", "lots", "--print-config");
        Assert.Equal(2, code);
        Assert.Contains("--exec-limit-processes: 'lots' is not a whole number or none.", stderr);
    }

    /// <summary>Each option, the value given, and where that value must arrive in the server's options.</summary>
    private static readonly (string Option, string Value, Func<FerryServerOptions, object?> Actual, object? Expected)[] s_optionsAndTheirSettings =
    [
        ("--exec-user", "builder", o => o.ExecUser, "builder"),
        ("--exec-limit-open-files", "200", o => o.ExecLimits.OpenFiles, 200L),
        ("--exec-limit-processes", "none", o => o.ExecLimits.Processes, null),
        ("--exec-limit-cpu-seconds", "90", o => o.ExecLimits.CpuSeconds, 90L),
        ("--exec-limit-address-space", "4294967296", o => o.ExecLimits.AddressSpaceBytes, 4294967296L),
        ("--file-mode", "0640", o => o.DataFileMode, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead),
        ("--users-check-interval", "0", o => o.UsersFileCheckInterval, TimeSpan.Zero),
        ("--login-grace-time", "30", o => o.LoginGraceTime, TimeSpan.FromSeconds(30)),
        ("--max-unauthenticated-connections", "300", o => o.MaxUnauthenticatedConnections, 300),
        ("--max-unauthenticated-connections-per-address", "20", o => o.MaxUnauthenticatedConnectionsPerAddress, 20),
        ("--min-idle-before-shed", "2.5", o => o.MinIdleBeforeShed, TimeSpan.FromSeconds(2.5)),
        ("--max-tls-handshakes", "8", o => o.MaxConcurrentTlsHandshakes, 8),
        ("--tls-handshake-timeout", "7", o => o.TlsHandshakeTimeout, TimeSpan.FromSeconds(7)),
        ("--max-auth-failures", "9", o => o.MaxAuthFailures, 9),
        ("--max-auth-failures-total", "50", o => o.MaxAuthFailuresTotal, 50),
        ("--auth-failure-window", "120", o => o.AuthFailureWindow, TimeSpan.FromSeconds(120)),
        ("--auth-failure-delay", "0", o => o.AuthFailureDelay, TimeSpan.Zero),
        ("--max-auth-throttle-networks", "500", o => o.MaxAuthThrottleNetworks, 500),
        ("--max-open-uploads", "77", o => o.MaxOpenUploads, 77),
        ("--max-open-uploads-per-user", "7", o => o.MaxOpenUploadsPerUser, 7),
        ("--udp-replay-window", "10", o => o.UdpReplayWindow, TimeSpan.FromSeconds(10)),
        ("--udp-result-retention", "45", o => o.UdpResultRetention, TimeSpan.FromSeconds(45)),
        ("--max-udp-output", "1048576", o => o.MaxUdpOutputBytes, 1048576L),
        ("--max-udp-result-bytes-per-user", "8388608", o => o.MaxUdpResultBytesPerUser, 8388608L),
        ("--max-udp-result-bytes", "33554432", o => o.MaxUdpResultBytes, 33554432L),
        ("--max-udp-requests-per-user", "10", o => o.MaxUdpRequestsPerUser, 10),
        ("--max-udp-requests", "100", o => o.MaxUdpRequests, 100),
    ];

    [Fact]
    public async Task Every_new_option_reaches_the_server_options()
    {
        using var work = new TempDirectory("ferry-settings");
        var defaults = new FerryServerOptions();
        foreach (var (option, _, actual, expected) in s_optionsAndTheirSettings)
            Assert.False(Equals(expected, actual(defaults)), $"{option}: the test value is the default, so it would prove nothing");

        // The options become settings (--print-config shows them), and the settings become the server's options.
        var (code, printed, stderr) = await Ferry(work.Path, null, ["serve", .. s_optionsAndTheirSettings.SelectMany(c => new[] { c.Option, c.Value }), "--print-config"]);
        Assert.True(code == 0, stderr);
        var file = work.Combine("printed.json");
        await File.WriteAllTextAsync(file, printed);
        var loaded = ServeConfiguration.Load(file, _ => { });
        Assert.True(loaded.Settings is not null, string.Join("\n", loaded.Errors));
        var options = loaded.Settings.ToServerOptions();
        options.Validate();
        foreach (var (option, value, actual, expected) in s_optionsAndTheirSettings)
            Assert.True(Equals(expected, actual(options)), $"{option} {value} gave {actual(options) ?? "null"}, not {expected ?? "null"}");
    }

    [Fact]
    public async Task A_missing_or_malformed_config_file_is_exit_code_2_naming_the_file()
    {
        using var work = new TempDirectory("ferry-settings");
        var missing = await Ferry(work.Path, null, "serve", "--config", work.Combine("nope.json"));
        Assert.Equal(2, missing.Code);
        Assert.Contains($"ferry serve: --config: {work.Combine("nope.json")} does not exist", missing.Err);

        var broken = work.Combine("broken.json");
        await File.WriteAllTextAsync(broken, "{ \"root\": ");
        var malformed = await Ferry(work.Path, null, "serve", "--config", broken);
        Assert.Equal(2, malformed.Code);
        Assert.Contains($"ferry serve: {broken}:", malformed.Err);
    }

    [Fact]
    public async Task Print_config_masks_the_certificate_password_and_the_server_uses_the_certificate()
    {
        using var work = new TempDirectory("ferry-settings");
        const string password = "correct horse battery staple";
        var pfx = work.Combine("server.pfx");
        string expectedFingerprint;
        using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            var request = new CertificateRequest("CN=ferry test", key, HashAlgorithmName.SHA256);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pkcs12, password));
            expectedFingerprint = "SHA256:" + Convert.ToBase64String(SHA256.HashData(certificate.RawData)).TrimEnd('=');
        }
        var file = work.Combine("ferry.json");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["listen"] = new[] { "127.0.0.1:0" },
            ["tls_certificate"] = pfx,
            ["state_dir"] = work.Combine("state"),
        }));
        var environment = new Dictionary<string, string> { ["FERRY_TLS_CERTIFICATE_PASSWORD"] = password };

        var printed = await Ferry(work.Path, environment, "serve", "--config", file, "--print-config");
        Assert.True(printed.Code == 0, printed.Err);
        Assert.DoesNotContain(password, printed.Out);
        var settings = JsonDocument.Parse(printed.Out).RootElement;
        Assert.Equal(ServeSettings.Masked, settings.GetProperty("tls_certificate_password").GetString());
        Assert.Equal(pfx, settings.GetProperty("tls_certificate").GetString());

        await using (var server = FerryProcess.Start(["serve", "--config", file], work.Path, environment))
        {
            await server.WaitForListeningAsync();
            Assert.Contains($"TLS certificate fingerprint {expectedFingerprint}", await server.WaitForOutputAsync("TLS certificate fingerprint"));
            Assert.DoesNotContain(password, server.Stdout);
        }

        const string wrongPassword = "not-the-password-9f3a";
        var wrong = await Ferry(work.Path, new Dictionary<string, string> { ["FERRY_TLS_CERTIFICATE_PASSWORD"] = wrongPassword }, "serve", "--config", file);
        Assert.Equal(2, wrong.Code);
        Assert.Contains($"ferry serve: tls_certificate: {pfx} cannot be read", wrong.Err);
        Assert.DoesNotContain(wrongPassword, wrong.Err);
    }

    [Fact]
    public async Task Printed_settings_read_back_as_a_config_file_give_the_same_settings()
    {
        using var work = new TempDirectory("ferry-settings");
        var first = await Ferry(work.Path, null, "serve", "--listen", "127.0.0.1:7010", "--quota", "12345", "--partial-ttl", "2", "--print-config");
        Assert.True(first.Code == 0, first.Err);
        var file = work.Combine("ferry.json");
        await File.WriteAllTextAsync(file, first.Out);

        var second = await Ferry(work.Path, null, "serve", "--config", file, "--print-config");
        Assert.True(second.Code == 0, second.Err);
        Assert.Equal(first.Out, second.Out);
    }

    [Fact]
    public void The_default_config_file_is_the_system_one_for_root_and_the_users_own_otherwise()
    {
        Assert.Equal("/etc/ferry/ferry.json", ServeConfiguration.DefaultPath(privileged: true, _ => "/x", "/home/ann"));
        Assert.Equal("/x/ferry/ferry.json", ServeConfiguration.DefaultPath(privileged: false, v => v == "XDG_CONFIG_HOME" ? "/x" : null, "/home/ann"));
        Assert.Equal("/home/ann/.config/ferry/ferry.json", ServeConfiguration.DefaultPath(privileged: false, _ => null, "/home/ann"));
    }
}
