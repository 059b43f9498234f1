using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Storage.Nats;

/// <summary>Says at start which NATS store the server uses, and warns when its nats-server is older than 2.9.21.</summary>
internal sealed partial class NatsStoreAnnouncer(NatsStoreOptions options, string serverVersion, ILogger<NatsStoreAnnouncer> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        Opened(logger, options.Url, options.BucketPrefix, options.Replicas, serverVersion);
        if (NatsServerVersion.HasRevisionRace(serverVersion))
            TooOld(logger, serverVersion, NatsServerVersion.RevisionCheckFixed.ToString());
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Logging.LogEvents.NatsStoreOpened, LogLevel.Information, "Files and users in the NATS store {Url} (buckets {Prefix}-*, {Replicas} replica(s)), nats-server {Version}")]
    private static partial void Opened(ILogger logger, string url, string prefix, int replicas, string version);

    [LoggerMessage(Logging.LogEvents.NatsServerTooOld, LogLevel.Warning,
        "nats-server {Version} is older than {Fixed}: two servers replacing the same name at the same moment can both succeed there (quotas and new names are safe). Upgrade the cluster for production")]
    private static partial void TooOld(ILogger logger, string version, string @fixed);
}
