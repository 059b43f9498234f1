using System.Net;
using System.Net.Sockets;

namespace Ferry.Testing;

/// <summary>
/// A three-node JetStream cluster of the machine's nats-server on loopback ports, with its config and data in a temporary
/// folder; every node is stopped by its process on dispose, also when a test failed. Tests that need it skip themselves
/// when nats-server is not installed (<see cref="IsAvailable"/>); CI installs it.
/// </summary>
public sealed class NatsCluster : IAsyncDisposable
{
    public const string ServerPath = "/usr/sbin/nats-server";

    private readonly TempDirectory _folder;

    private NatsCluster(TempDirectory folder, IReadOnlyList<NatsNode> nodes, string scheme, NatsTestCertificates? certificates)
    {
        _folder = folder;
        Nodes = nodes;
        _scheme = scheme;
        Certificates = certificates;
    }

    private readonly string _scheme;

    public static bool IsAvailable => File.Exists(ServerPath);

    public IReadOnlyList<NatsNode> Nodes { get; }

    /// <summary>The cluster's client address list, as <c>--store</c> takes it: nats://127.0.0.1:A,127.0.0.1:B,... (tls:// when it requires TLS).</summary>
    public string Url => _scheme + string.Join(",", Nodes.Select(n => $"127.0.0.1:{n.ClientPort}"));

    /// <summary>The CA and server certificate of a cluster started with <see cref="StartWithTlsAsync"/>; null otherwise.</summary>
    public NatsTestCertificates? Certificates { get; }

    /// <summary>The folder of the cluster's configs and data, where a test may put files of its own.</summary>
    public string Folder => _folder.Path;

    /// <summary>Starts three nodes and waits until each reports JetStream up.</summary>
    public static Task<NatsCluster> StartAsync(int size = 3) => StartClusterAsync(size, _ => "", "nats://", null);

    /// <summary>
    /// A cluster whose clients must log in as <paramref name="user"/> with <paramref name="password"/> (an authorization
    /// block; the routes between the nodes need none).
    /// </summary>
    public static Task<NatsCluster> StartWithPasswordAsync(string user, string password) =>
        StartClusterAsync(3, _ => $"authorization {{ user: \"{user}\", password: \"{password}\" }}", "nats://", null);

    /// <summary>
    /// A cluster whose clients must use TLS, with a certificate from a CA made for this cluster alone
    /// (<see cref="Certificates"/>); the routes between the nodes stay plain.
    /// </summary>
    /// <param name="verifyClients">Clients must also show a certificate from that CA (<see cref="NatsTestCertificates.ClientCertFile"/>).</param>
    public static Task<NatsCluster> StartWithTlsAsync(bool verifyClients = false) =>
        StartClusterAsync(3, _ => "", "tls://", folder => NatsTestCertificates.Create(Path.Combine(folder, "certs")), verifyClients);

    /// <summary>
    /// A cluster in operator mode: clients log in with creds files whose user JWTs an account of
    /// <paramref name="trust"/> signed (<see cref="NatsOperatorTrust.WriteUserCreds"/>), as in a deployment managed with nsc.
    /// </summary>
    public static Task<NatsCluster> StartInOperatorModeAsync(NatsOperatorTrust trust) =>
        StartClusterAsync(3, trust.ServerConfig, "nats://", null);

    /// <param name="clientConfigFor">Makes the client-side config lines from the cluster's folder.</param>
    private static async Task<NatsCluster> StartClusterAsync(int size, Func<string, string> clientConfigFor, string scheme, Func<string, NatsTestCertificates>? certify, bool verifyClients = false)
    {
        var folder = new TempDirectory("ferry-nats");
        var clientConfig = clientConfigFor(folder.Path);
        var certificates = certify?.Invoke(folder.Path);
        if (certificates is not null)
            clientConfig += $$"""

                tls {
                  cert_file: "{{certificates.ServerCertFile}}"
                  key_file: "{{certificates.ServerKeyFile}}"
                  ca_file: "{{certificates.CaFile}}"
                  verify: {{(verifyClients ? "true" : "false")}}
                  timeout: 5
                }
                """;
        // A port found free can be taken by another process before the node binds it (clusters of other test classes
        // start at the same moment): the node then exits at once, and the cluster is started again on other ports.
        for (var attempt = 1; ; attempt++)
        {
            var ports = FreePorts(size * 3);
            var clusterPorts = ports.Skip(size).Take(size).ToList();
            var nodes = Enumerable.Range(0, size)
                .Select(i => new NatsNode($"n{i + 1}", folder.Path, ports[i], clusterPorts[i], ports[2 * size + i], clusterPorts, clientConfig))
                .ToList();
            var cluster = new NatsCluster(folder, nodes, scheme, certificates);
            try
            {
                foreach (var node in nodes)
                    node.Start();
                await cluster.WaitHealthyAsync();
                return cluster;
            }
            catch (NatsNodeExitedException e) when (attempt < 5 && e.Message.Contains("address already in use", StringComparison.Ordinal))
            {
                cluster.StopNodes();
                foreach (var node in nodes) // a fresh start: no JetStream state or log of the attempt that failed
                {
                    Directory.Delete(Path.Combine(folder.Path, node.Name), recursive: true);
                    File.Delete(Path.Combine(folder.Path, node.Name + ".log"));
                }
            }
            catch
            {
                await cluster.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>Waits until every running node reports JetStream up (a minute at most: a node that fails to start shows its log).</summary>
    public async Task WaitHealthyAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var waiting = Nodes.Where(n => n.Pid is not null).ToList();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (waiting.Count > 0)
        {
            foreach (var node in waiting.ToList())
            {
                if (await node.IsHealthyAsync(http))
                    waiting.Remove(node);
                else if (node.Pid is null)
                    throw new NatsNodeExitedException($"The NATS node {node.Name} exited while starting:\n{Tail(node.Log)}");
            }
            if (waiting.Count == 0)
                break;
            if (clock.Elapsed > TimeSpan.FromMinutes(1))
                throw new TimeoutException("The NATS cluster did not report JetStream up:\n" + string.Join("\n", waiting.Select(n => n.Name + ": " + Tail(n.Log))));
            await Task.Delay(50);
        }
    }

    private static string Tail(string log) => log.Length > 2000 ? log[^2000..] : log;

    /// <summary>Loopback ports nothing listens on now (bound and released; a clash shows as a node that fails to start).</summary>
    private static List<int> FreePorts(int count)
    {
        var sockets = Enumerable.Range(0, count).Select(_ =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            return socket;
        }).ToList();
        var ports = sockets.Select(s => ((IPEndPoint)s.LocalEndPoint!).Port).ToList();
        foreach (var socket in sockets)
            socket.Dispose();
        return ports;
    }

    private void StopNodes()
    {
        foreach (var node in Nodes)
            node.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        StopNodes();
        _folder.Dispose();
        return ValueTask.CompletedTask;
    }
}
