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
    /// Connects to <paramref name="store"/> (<c>nats://HOST:PORT[,HOST:PORT...]</c>), opens or creates the buckets with
    /// <paramref name="replicas"/> copies, and registers the file store and the user store in their place; call it before
    /// <see cref="ServiceCollectionExtensions.AddFerryServer"/>. Throws <c>FerryException</c> (field_invalid, io_error) when
    /// the address is malformed or the cluster cannot be used.
    /// </summary>
    public static async Task<IServiceCollection> AddFerryNatsStoreAsync(this IServiceCollection services, string store, int replicas, CancellationToken cancellationToken)
    {
        if (replicas is < 1 or > 5)
            throw new Protocol.Errors.FerryException(Protocol.Errors.FerryErrorCode.FieldInvalid, $"nats_replicas must be 1 to 5 (JetStream's limit), not {replicas}.");
        var options = NatsStoreOptions.Parse(store) with { Replicas = replicas };
        var provider = await NatsFileStoreProvider.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        services.AddSingleton<IFileStoreProvider>(_ => provider); // a factory: the container disposes it (the connection) at the end
        services.AddHostedService(sp => new NatsStoreAnnouncer(options, provider.ServerVersion, sp.GetRequiredService<ILogger<NatsStoreAnnouncer>>()));
        services.AddSingleton(sp => new NatsUserStore(provider.UsersBucket, $"the NATS bucket {options.UsersBucket}", sp.GetRequiredService<ILogger<NatsUserStore>>()));
        services.AddSingleton<IUserStore>(sp => sp.GetRequiredService<NatsUserStore>());
        services.AddHostedService(sp => sp.GetRequiredService<NatsUserStore>()); // before the server's: the users are read before it listens
        return services;
    }

    /// <summary>
    /// The users of the NATS store at <paramref name="store"/>, for <c>ferry user ... --store</c>: a malformed address is an
    /// <see cref="ArgumentException"/>, an unusable cluster an <see cref="IOException"/>.
    /// </summary>
    public static async Task<IUserAdministration> ConnectUserAdministrationAsync(string store, int replicas, CancellationToken cancellationToken) =>
        await NatsUserAdministration.ConnectAsync(store, replicas, cancellationToken).ConfigureAwait(false);
}
