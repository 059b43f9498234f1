using System.Net;
using BenchmarkDotNet.Attributes;
using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Benchmarks;

/// <summary>
/// One <see cref="FerryClient.EchoAsync"/> of a 64-byte payload over loopback TCP to an in-process
/// <see cref="FerryServer"/> (127.0.0.1, port 0). Client and server run in the benchmark process, so the
/// time is a full round trip through both stacks and the kernel's loopback, and the allocated bytes are both sides'.
/// </summary>
/// <remarks>
/// The server is built the way <see cref="ServiceCollectionExtensions.AddFerryServer"/> registers it (with its
/// built-in handlers) but resolved from a bare service provider and started directly, with null loggers, so no
/// logging provider costs anything. Every call carries a run-wide watchdog token (10 minutes) so a stuck server
/// fails the run instead of hanging it. The options are the in-process test server's (Ferry.Testing.TestServer): plain
/// TCP without login, so the figure is the framing and the stacks, and a temporary root, state folder and known-servers
/// file, so a run writes nothing into the working folder or ~/.config. <c>--smoke</c> runs it once (CI does).
/// </remarks>
[MemoryDiagnoser]
[MedianColumn]
public class EchoRoundTripBenchmarks
{
    private readonly byte[] _payload = FrameData.Body(FrameData.SmallBody);
    private ServiceProvider _services = null!;
    private FerryServer _server = null!;
    private FerryClient _client = null!;
    private string _root = null!;
    private CancellationTokenSource _watchdog = null!;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        _watchdog = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        _root = Path.Combine(Path.GetTempPath(), $"ferry-bench-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddFerryServer(new FerryServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            Root = Path.Combine(_root, "root"),
            StateDirectory = Path.Combine(_root, "state"),
            RequireAuthentication = false,
            UseTls = false,
        });
        _services = services.BuildServiceProvider();
        _server = _services.GetRequiredService<FerryServer>();

        using var startup = CancellationTokenSource.CreateLinkedTokenSource(_watchdog.Token);
        startup.CancelAfter(TimeSpan.FromSeconds(30));
        await _server.StartAsync(startup.Token).ConfigureAwait(false);
        var endPoint = _server.EndPoints.Single();
        if (!IPAddress.IsLoopback(endPoint.Address))
            throw new InvalidOperationException($"The server bound {endPoint}, not a loopback address.");
        _client = await FerryClient.ConnectAsync(new ServerAddress("127.0.0.1", endPoint.Port), new FerryClientOptions
        {
            UseTls = false,
            TrustStore = new KnownServers(Path.Combine(_root, "known_servers")),
        }, startup.Token).ConfigureAwait(false);

        // Self-check: the server answers with the body upper-cased.
        var reply = await _client.EchoAsync(_payload, startup.Token).ConfigureAwait(false);
        var expected = _payload.Select(b => b is >= (byte)'a' and <= (byte)'z' ? (byte)(b - 32) : b).ToArray();
        if (!reply.AsSpan().SequenceEqual(expected))
            throw new InvalidOperationException("The echo reply is not the upper-cased payload.");
    }

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    private async Task CleanupAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _client.ByeAsync(timeout.Token).ConfigureAwait(false);
        }
        finally
        {
            await _client.DisposeAsync().ConfigureAwait(false);
            await _server.StopAsync(timeout.Token).ConfigureAwait(false);
            await _services.DisposeAsync().ConfigureAwait(false);
            _watchdog.Dispose();
            if (Directory.Exists(_root))
                Directory.Delete(_root, recursive: true);
        }
    }

    [Benchmark]
    public Task<byte[]> Echo64B() => _client.EchoAsync(_payload, _watchdog.Token);

    /// <summary>Setup, one round trip and cleanup, without BenchmarkDotNet: proves the benchmark still runs.</summary>
    public static async Task SmokeAsync()
    {
        var benchmark = new EchoRoundTripBenchmarks();
        benchmark.Setup();
        try
        {
            var reply = await benchmark.Echo64B().ConfigureAwait(false);
            if (reply.Length != benchmark._payload.Length)
                throw new InvalidOperationException($"The echo reply has {reply.Length} bytes, not {benchmark._payload.Length}.");
        }
        finally
        {
            benchmark.Cleanup();
        }
    }
}
