using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// 'ferry serve --metrics-listen' serves Prometheus metrics; a scrape during and after real traffic shows the counters
/// moved by what was done.
/// </summary>
public partial class MetricsEndpointTests
{
    private static int FreeLoopbackPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>One scrape: the sum of every sample of <c>name</c> whose labels include all of <c>labels</c>.</summary>
    private sealed class Scrape(string text)
    {
        public string Text => text;

        public double Sum(string name, params string[] labels)
        {
            var total = 0.0;
            foreach (Match m in Sample().Matches(text))
            {
                if (m.Groups["name"].Value != name)
                    continue;
                var sampleLabels = m.Groups["labels"].Value;
                if (labels.All(l => sampleLabels.Contains(l, StringComparison.Ordinal)))
                    total += double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
            return total;
        }
    }

    private static async Task<Scrape> ScrapeAsync(HttpClient http, string url)
    {
        using var response = await http.GetAsync(url, TestTimeouts.Token());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
        return new Scrape(await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Counters_follow_connections_uploads_commands_and_failed_logins()
    {
        using var work = new TempDirectory("ferry-metrics");
        var state = work.Combine("state");
        await using (var add = FerryProcess.Start(["user", "add", "alice", "--allow", "read,write,exec", "--state-dir", state], work.Path))
        {
            await add.WaitForExitAsync();
            Assert.True(add.ExitCode == 0, add.Stderr);
        }
        var key = global::Ferry.Server.Auth.UsersFile.Load(Path.Combine(state, "users.json")).Single().Key;

        var metricsPort = FreeLoopbackPort();
        await using var server = FerryProcess.Start(["serve", "--listen", "127.0.0.1:0", "--state-dir", state, "--root", work.Combine("data"),
            "--allow-exec", "--metrics-listen", $"127.0.0.1:{metricsPort}"], work.Path);
        var address = await server.WaitForListeningAsync();
        var url = $"http://127.0.0.1:{metricsPort}/metrics";
        Assert.Contains(url, await server.WaitForOutputAsync("Metrics at"));
        using var http = new HttpClient { Timeout = TestTimeouts.Default };

        var before = await ScrapeAsync(http, url);
        Assert.Equal(0, before.Sum("ferry_server_connections_active"));
        Assert.Equal(0, before.Sum("ferry_server_transfers_finished_total"));

        var clientEnvironment = new Dictionary<string, string>
        {
            ["FERRY_CONFIG_DIR"] = work.Combine("client"),
            ["FERRY_USER"] = "alice",
            ["FERRY_KEY"] = Convert.ToBase64String(key),
        };
        async Task<(int Code, string Err)> Ferry(IDictionary<string, string> environment, params string[] args)
        {
            await using var p = FerryProcess.Start(args, work.Path, environment);
            await p.WaitForExitAsync();
            return (p.ExitCode, p.Stderr);
        }

        // During: a logged-in connection is open. (Its pins go in the client's own folder: the client makes the folder
        // of known_servers owner-only, and the data root below work must stay passable for the account commands run as.)
        Assert.True(ServerAddress.TryParse(address, out var serverAddress, out _));
        await using (var open = await FerryClient.ConnectAsync(serverAddress.Value,
            new FerryClientOptions { Credentials = new ClientCredentials("alice", key), TrustStore = new KnownServers(work.Combine("client", "known_servers")) },
            TestTimeouts.Token()))
        {
            var during = await ScrapeAsync(http, url);
            Assert.Equal(1, during.Sum("ferry_server_connections_active"));
        }

        const int fileSize = 3 * 1024 * 1024 + 17;
        var payload = new byte[fileSize];
        Random.Shared.NextBytes(payload);
        await File.WriteAllBytesAsync(work.Combine("big.bin"), payload);
        var put = await Ferry(clientEnvironment, "put", "--server", address, "-q", "big.bin");
        Assert.True(put.Code == 0, put.Err);

        var exec = await Ferry(clientEnvironment, "exec", "--server", address, "--", "true");
        Assert.True(exec.Code == 0, exec.Err);

        var wrongKey = new Dictionary<string, string>(clientEnvironment) { ["FERRY_KEY"] = Convert.ToBase64String(new byte[32]) };
        var refused = await Ferry(wrongKey, "ls", "--server", address);
        Assert.Equal(5, refused.Code);

        // After: connections are closed once the server has seen each client go; allow it a moment.
        var after = await ScrapeAsync(http, url);
        for (var i = 0; i < 50 && after.Sum("ferry_server_connections_active") != 0; i++)
        {
            await Task.Delay(100);
            after = await ScrapeAsync(http, url);
        }
        Assert.Equal(0, after.Sum("ferry_server_connections_active"));
        Assert.True(after.Sum("ferry_server_network_bytes_total", "direction=\"in\"") >= fileSize, after.Text);
        Assert.Equal(1, after.Sum("ferry_server_transfers_started_total", "direction=\"in\""));
        Assert.Equal(1, after.Sum("ferry_server_transfers_finished_total", "direction=\"in\""));
        Assert.Equal(0, after.Sum("ferry_server_transfers_failed_total"));
        Assert.Equal(1, after.Sum("ferry_server_exec_started_total", "transport=\"tcp\""));
        Assert.Equal(1, after.Sum("ferry_server_exec_duration_seconds_count", "outcome=\"completed\""));
        Assert.Equal(1, after.Sum("ferry_server_auth_failures_total"));
        Assert.Equal(1, after.Sum("ferry_server_auth_failures_total", "reason=\"rejected\""));
        Assert.Equal(1, after.Sum("ferry_server_errors_total", "code=\"authentication_failed\""));
        Assert.True(after.Sum("ferry_server_connections_total") >= 4, after.Text); // the open one, put, exec, the refused ls
        Assert.Equal(fileSize, new FileInfo(Path.Combine(work.Path, "data", "alice", "big.bin")).Length);
    }

    [Fact]
    public async Task A_busy_metrics_port_is_exit_code_2_naming_the_setting()
    {
        using var work = new TempDirectory("ferry-metrics");
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var port = ((IPEndPoint)taken.LocalEndPoint!).Port;

        await using var server = FerryProcess.Start(["serve", "--listen", "127.0.0.1:0", "--insecure-no-auth", "--root", work.Combine("data"),
            "--metrics-listen", $"127.0.0.1:{port}"], work.Path);
        await server.WaitForExitAsync();
        Assert.Equal(2, server.ExitCode);
        Assert.Contains($"ferry serve: metrics_listen: cannot listen on 127.0.0.1:{port}", server.Stderr);
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?<labels>[^}]*)\})? (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex Sample();
}
