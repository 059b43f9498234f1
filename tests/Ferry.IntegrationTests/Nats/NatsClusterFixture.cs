using Ferry.Testing;

namespace Ferry.IntegrationTests.Nats;

/// <summary>One three-node JetStream cluster for a test class: starting one takes seconds, so its tests share it (each uses its own buckets).</summary>
public sealed class NatsClusterFixture : IAsyncLifetime
{
    public NatsCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await NatsCluster.StartAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
