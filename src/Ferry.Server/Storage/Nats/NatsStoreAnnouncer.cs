using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Storage.Nats;

/// <summary>Says at start which NATS store the server uses, and warns when its nats-server is older than 2.9.21.</summary>
internal sealed partial class NatsStoreAnnouncer(NatsStoreOptions options, string serverVersion, ILogger<NatsStoreAnnouncer> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        Opened(logger, options.Url, options.BucketPrefix, options.Replicas, serverVersion, Describe(options));
        if (NatsServerVersion.HasRevisionRace(serverVersion))
            TooOld(logger, serverVersion, NatsServerVersion.RevisionCheckFixed.ToString());
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>How the server logs in and whether TLS is on, and the audit stream: names and paths, never a secret.</summary>
    private static string Describe(NatsStoreOptions options)
    {
        var access = options.Access;
        var parts = new List<string>
        {
            access switch
            {
                { User: { } user } => $"as user {user}",
                { CredsFile: { } creds } => $"with the creds file {creds}",
                _ => "without credentials",
            },
            options.Tls ? (access?.TlsCert is not null ? "TLS with a client certificate" : "TLS") : "no TLS",
        };
        if (access?.AuditStream is { } stream)
            parts.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"audit records to the stream {stream} (kept {access.AuditStreamMaxAge.TotalDays:0.##} days)"));
        return string.Join(", ", parts);
    }

    [LoggerMessage(Logging.LogEvents.NatsStoreOpened, LogLevel.Information, "Files and users in the NATS store {Url} (buckets {Prefix}-*, {Replicas} replica(s)), nats-server {Version}; {Access}")]
    private static partial void Opened(ILogger logger, string url, string prefix, int replicas, string version, string access);

    [LoggerMessage(Logging.LogEvents.NatsServerTooOld, LogLevel.Warning,
        "nats-server {Version} is older than {Fixed}: two servers replacing the same name at the same moment can both succeed there (quotas and new names are safe). Upgrade the cluster for production")]
    private static partial void TooOld(ILogger logger, string version, string @fixed);
}
