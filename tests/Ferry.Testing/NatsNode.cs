using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Ferry.Testing;

/// <summary>
/// One nats-server process of a <see cref="NatsCluster"/>: its own config file and JetStream folder, loopback ports only.
/// It can be killed (SIGKILL, as a crash) and started again on the same ports and folder.
/// </summary>
public sealed class NatsNode : IDisposable
{
    private readonly string _configFile;
    private readonly string _logFile;
    private Process? _process;

    /// <param name="clientConfig">Lines added to the config for client connections only (an authorization or tls block); the routes stay as they are.</param>
    internal NatsNode(string name, string folder, int clientPort, int clusterPort, int monitorPort, IReadOnlyList<int> routes, string clientConfig = "")
    {
        Name = name;
        ClientPort = clientPort;
        MonitorPort = monitorPort;
        var store = Path.Combine(folder, name);
        Directory.CreateDirectory(store);
        _configFile = Path.Combine(folder, name + ".conf");
        _logFile = Path.Combine(folder, name + ".log");
        File.WriteAllText(_configFile, $$"""
            server_name: {{name}}
            listen: 127.0.0.1:{{clientPort}}
            http: 127.0.0.1:{{monitorPort}}
            jetstream {
              store_dir: "{{store}}"
              max_mem_store: 64MB
              max_file_store: 4GB
            }
            cluster {
              name: ferry-test
              listen: 127.0.0.1:{{clusterPort}}
              routes: [ {{string.Join(", ", routes.Select(p => $"nats-route://127.0.0.1:{p}"))}} ]
            }
            {{clientConfig}}
            """);
    }

    public string Name { get; }
    public int ClientPort { get; }
    public int MonitorPort { get; }

    /// <summary>The process id while it runs.</summary>
    public int? Pid => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>What the server logged, for a failing test's message.</summary>
    public string Log => File.Exists(_logFile) ? File.ReadAllText(_logFile) : "";

    public void Start()
    {
        if (Pid is not null)
            return;
        var start = new ProcessStartInfo(NatsCluster.ServerPath, ["-c", _configFile, "-l", _logFile])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException("nats-server did not start.");
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>SIGKILL: no goodbye to the cluster, as a crash or a pulled plug.</summary>
    public void Kill()
    {
        if (_process is null)
            return;
        try
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        _process = null;
    }

    /// <summary>Whether the node answers /healthz with JetStream up.</summary>
    public async Task<bool> IsHealthyAsync(HttpClient http)
    {
        try
        {
            using var response = await http.GetAsync($"http://127.0.0.1:{MonitorPort}/healthz?js-enabled-only=true");
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or SocketException)
        {
            return false;
        }
    }

    public void Dispose() => Kill();
}
