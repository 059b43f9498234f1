using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Errors;
using Ferry.Server.Auth;
using Ferry.Server.Storage;
using Ferry.Server.Storage.Nats;
using Ferry.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Ferry.IntegrationTests.Nats;

/// <summary>
/// Two Ferry servers on one NATS cluster, as behind a load balancer: same users and keys, each with its own connection to
/// the cluster, both on buckets no other test uses.
/// </summary>
internal sealed class NatsServerPair : IAsyncDisposable
{
    private static readonly byte[] s_key = Handshake.NewKey();
    private readonly List<NatsFileStoreProvider> _providers;

    private NatsServerPair(TestServer a, TestServer b, List<NatsFileStoreProvider> providers, NatsStoreOptions options)
    {
        A = a;
        B = b;
        _providers = providers;
        Options = options;
    }

    /// <summary>The one user, as the servers know it.</summary>
    public UserAccount User => new() { Name = "ana", Key = s_key };

    public TestServer A { get; }
    public TestServer B { get; }
    public NatsStoreOptions Options { get; }
    public NatsFileStoreProvider ProviderOf(TestServer server) => _providers[server == A ? 0 : 1];

    /// <param name="quota">The user's byte quota, or null for none.</param>
    /// <param name="configure">Further server settings (short sweep periods, say).</param>
    public static async Task<NatsServerPair> StartAsync(NatsCluster cluster, long? quota = null, Func<Ferry.Server.Hosting.FerryServerOptions, Ferry.Server.Hosting.FerryServerOptions>? configure = null)
    {
        var options = NatsStoreOptions.Parse(cluster.Url) with { BucketPrefix = "t" + NatsKeys.NewId()[..10] };
        var providers = new List<NatsFileStoreProvider>();
        for (var i = 0; i < 2; i++)
            providers.Add(await ConnectAsync(options));
        var servers = new List<TestServer>();
        foreach (var provider in providers)
        {
            servers.Add(await TestServer.StartAsync(o =>
            {
                var with = (configure?.Invoke(o) ?? o) with { RequireAuthentication = true };
                Directory.CreateDirectory(with.StateDirectory);
                UsersFile.Save(with.EffectiveUsersFile, [new UserAccount { Name = "ana", Key = s_key, QuotaBytes = quota }]);
                return with;
            }, (services, _) => services.AddSingleton<IFileStoreProvider>(provider)));
        }
        return new NatsServerPair(servers[0], servers[1], providers, options);
    }

    /// <summary>
    /// Connects, retrying while the cluster is still electing its leaders (a fresh cluster answers "no suitable peers" or
    /// times out for a few seconds).
    /// </summary>
    private static async Task<NatsFileStoreProvider> ConnectAsync(NatsStoreOptions options)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await NatsFileStoreProvider.ConnectAsync(options, TestTimeouts.Token());
            }
            catch (FerryException) when (clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(250);
            }
        }
    }

    public Task<FerryClient> LoginAsync(TestServer server) =>
        FerryClient.ConnectAsync(server.Address, new FerryClientOptions { UseTls = false, Credentials = new ClientCredentials("ana", s_key) }, TestTimeouts.Token());

    public async ValueTask DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
        foreach (var provider in _providers)
            await provider.DisposeAsync();
    }
}
