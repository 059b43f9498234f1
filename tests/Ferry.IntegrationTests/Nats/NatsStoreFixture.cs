using Ferry.Server.Storage.Nats;
using Ferry.Testing;

namespace Ferry.IntegrationTests.Nats;

/// <summary>One cluster and one connected store for a test class whose rows each start a server on it.</summary>
public sealed class NatsStoreFixture : IAsyncLifetime
{
    public NatsCluster Cluster { get; private set; } = null!;
    internal NatsFileStoreProvider Provider { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await NatsCluster.StartAsync();
        var options = NatsStoreOptions.Parse(Cluster.Url) with { BucketPrefix = "h" + NatsKeys.NewId()[..10] };
        Provider = await NatsFileStoreProvider.ConnectAsync(options, TestTimeouts.Token(TimeSpan.FromMinutes(1)));
    }

    public async Task DisposeAsync()
    {
        await Provider.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}
