using System.Net;
using Ferry.Client;
using Ferry.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ferry.Testing;

/// <summary>An in-process Ferry server on 127.0.0.1, port 0, over a temporary root.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly TempDirectory? _ownedRoot;

    private readonly List<IHostedService> _hosted;

    private TestServer(ServiceProvider services, FerryServer server, List<IHostedService> hosted, FerryServerOptions options, InMemoryLoggerProvider logs, TempDirectory? ownedRoot)
    {
        _hosted = hosted;
        _services = services;
        Server = server;
        Options = options;
        Logs = logs;
        _ownedRoot = ownedRoot;
    }

    public FerryServer Server { get; }
    public FerryServerOptions Options { get; }
    public InMemoryLoggerProvider Logs { get; }
    public string Root => Options.Root;

    /// <summary>The server's services, for tests that look at (or drive) its parts directly.</summary>
    public IServiceProvider Services => _services;
    public IPEndPoint EndPoint => Server.EndPoints[0];
    public ServerAddress Address => new(EndPoint.Address.ToString(), EndPoint.Port);

    /// <summary>The UDP exec address when the test asked for one (UdpListen).</summary>
    public IPEndPoint? UdpEndPoint => _services.GetRequiredService<Ferry.Server.Udp.UdpExecServer>().EndPoint;

    /// <summary>The UDP exec service (its request table's size and kept bytes), for tests of UDP state.</summary>
    public Ferry.Server.Udp.UdpExecServer UdpServer => _services.GetRequiredService<Ferry.Server.Udp.UdpExecServer>();

    /// <summary>Starts a server; <paramref name="configure"/> may change any option (Listen and Root are preset).</summary>
    /// <param name="register">Registers services before the server's own (a store provider, say), which then take their place.</param>
    /// <param name="replace">Changes the server's services once they are registered (to serve without a command, say: a server from before it).</param>
    public static async Task<TestServer> StartAsync(Func<FerryServerOptions, FerryServerOptions>? configure = null,
        Action<IServiceCollection, FerryServerOptions>? register = null, Action<IServiceCollection>? replace = null)
    {
        var root = new TempDirectory("ferry-root");
        // Plain TCP without login unless a test asks for them: most tests are about framing and files, and the
        // security tests switch both on.
        var options = new FerryServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            Root = root.Path,
            StateDirectory = System.IO.Path.Combine(root.Path + "-state"),
            RequireAuthentication = false,
            UseTls = false,
        };
        options = configure?.Invoke(options) ?? options;
        var logs = new InMemoryLoggerProvider();
        var collection = new ServiceCollection().AddLogging(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(logs));
        register?.Invoke(collection, options);
        collection.AddFerryServer(options);
        replace?.Invoke(collection);
        var services = collection.BuildServiceProvider();
        var server = services.GetRequiredService<FerryServer>();
        // Start every hosted service (the server and its background jobs), as the host would.
        var hosted = services.GetServices<IHostedService>().ToList();
        foreach (var service in hosted)
            await service.StartAsync(CancellationToken.None);
        return new TestServer(services, server, hosted, options, logs, root);
    }

    /// <summary>Connects a client that matches the server's transport (plain TCP unless the test turned TLS on).</summary>
    public Task<FerryClient> ConnectAsync(FerryClientOptions? options = null) =>
        FerryClient.ConnectAsync(Address, options ?? new FerryClientOptions { UseTls = Options.UseTls }, TestTimeouts.Token());

    public Task<RawConnection> ConnectRawAsync() => RawConnection.ConnectAsync(EndPoint);

    public async ValueTask DisposeAsync()
    {
        for (var i = _hosted.Count - 1; i >= 0; i--)
            await _hosted[i].StopAsync(CancellationToken.None);
        await _services.DisposeAsync();
        _ownedRoot?.Dispose();
        try { Directory.Delete(Options.StateDirectory, recursive: true); } catch (IOException) { }
    }
}
