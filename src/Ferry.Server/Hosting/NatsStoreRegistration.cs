using Ferry.Server.Auth;
using Ferry.Server.Storage;
using Ferry.Server.Storage.Nats;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Hosting;

/// <summary>Chooses the NATS JetStream store at start-up: files and users of every server on the cluster in shared buckets.</summary>
public static class NatsStoreRegistration
{
    /// <summary>
    /// Connects to <paramref name="store"/> (<c>nats://HOST:PORT[,HOST:PORT...]</c>) without credentials or TLS files; see
    /// <see cref="AddFerryNatsStoreAsync(IServiceCollection, NatsStoreSettings, CancellationToken)"/>.
    /// </summary>
    public static Task<IServiceCollection> AddFerryNatsStoreAsync(this IServiceCollection services, string store, int replicas, CancellationToken cancellationToken) =>
        services.AddFerryNatsStoreAsync(new NatsStoreSettings { Store = store, Replicas = replicas }, cancellationToken);

    /// <summary>
    /// Connects to the store with its credentials and TLS, opens or creates the buckets with the settings' replicas, and
    /// registers the file store and the user store in their place (and the audit stream, when one is named); call it before
    /// <see cref="ServiceCollectionExtensions.AddFerryServer"/>. Throws <c>FerryException</c> (field_invalid, io_error) when
    /// the settings are wrong or the cluster cannot be used (unreachable, credentials or certificate refused).
    /// </summary>
    public static async Task<IServiceCollection> AddFerryNatsStoreAsync(this IServiceCollection services, NatsStoreSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Problems() is [var (key, problem), ..])
            throw new Protocol.Errors.FerryException(Protocol.Errors.FerryErrorCode.FieldInvalid, $"{key}: {problem}");
        var options = NatsStoreOptions.From(settings);
        var provider = await NatsFileStoreProvider.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        services.AddSingleton<IFileStoreProvider>(_ => provider); // a factory: the container disposes it (the connection) at the end
        services.AddHostedService(sp => new NatsStoreAnnouncer(options, provider.ServerVersion, sp.GetRequiredService<ILogger<NatsStoreAnnouncer>>()));
        services.AddSingleton(sp => new NatsUserStore(provider.UsersBucket, $"the NATS bucket {options.UsersBucket}", sp.GetRequiredService<ILogger<NatsUserStore>>()));
        services.AddSingleton<IUserStore>(sp => sp.GetRequiredService<NatsUserStore>());
        services.AddHostedService(sp => sp.GetRequiredService<NatsUserStore>()); // before the server's: the users are read before it listens
        if (settings.AuditStream is { } stream)
        {
            try
            {
                // Here, before the server starts, so that a stream the cluster refuses stops the start with the reason.
                await NatsAuditPublisher.EnsureStreamAsync(provider.JetStream, stream, settings.Replicas, settings.AuditStreamMaxAge, cancellationToken)
                    .ConfigureAwait(false);
            }
            catch
            {
                await provider.DisposeAsync().ConfigureAwait(false);
                throw;
            }
            services.AddSingleton(sp =>
            {
                // Resolving the provider first makes the container dispose the publisher (and its last records) before the connection.
                sp.GetRequiredService<IFileStoreProvider>();
                return new NatsAuditPublisher(provider.JetStream, stream, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Ferry.Audit"));
            });
            services.AddSingleton<IAuditSink>(sp => sp.GetRequiredService<NatsAuditPublisher>());
        }
        return services;
    }

    /// <summary>
    /// The users of the NATS store at <paramref name="store"/>, for <c>ferry user ... --store</c>: a malformed address is an
    /// <see cref="ArgumentException"/>, an unusable cluster an <see cref="IOException"/>.
    /// </summary>
    public static Task<IUserAdministration> ConnectUserAdministrationAsync(string store, int replicas, CancellationToken cancellationToken) =>
        ConnectUserAdministrationAsync(new NatsStoreSettings { Store = store, Replicas = replicas }, cancellationToken);

    /// <summary>
    /// The users of the NATS store, with its credentials and TLS: settings that are wrong are an <see cref="ArgumentException"/>
    /// naming the setting, an unusable cluster (unreachable, credentials or certificate refused) an <see cref="IOException"/>.
    /// </summary>
    public static async Task<IUserAdministration> ConnectUserAdministrationAsync(NatsStoreSettings settings, CancellationToken cancellationToken) =>
        await NatsUserAdministration.ConnectAsync(settings, cancellationToken).ConfigureAwait(false);
}
