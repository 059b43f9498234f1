using Ferry.Server.Auth;
using NATS.Client.Core;
using NATS.Client.ObjectStore;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// Homes in a NATS JetStream cluster shared by several servers: each user's names under their own token in one namespace
/// bucket, contents in one object store. A server keeps no file state of its own, so a user's files look the same through
/// any server of the cluster.
/// </summary>
internal sealed class NatsFileStoreProvider : IFileStoreProvider, IAsyncDisposable
{
    private readonly NatsBuckets _buckets;
    private readonly NatsStoreOptions _options;
    private readonly Dictionary<string, NatsFileStore> _stores = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NatsQuotaLedger> _ledgers = new(StringComparer.Ordinal);

    private NatsFileStoreProvider(NatsBuckets buckets, NatsStoreOptions options)
    {
        _buckets = buckets;
        _options = options;
    }

    /// <summary>Connects to the cluster and opens (or creates) the buckets; an unreachable cluster is io_error.</summary>
    public static async Task<NatsFileStoreProvider> ConnectAsync(NatsStoreOptions options, CancellationToken cancellationToken) =>
        new(await NatsBuckets.OpenAsync(options, cancellationToken).ConfigureAwait(false), options);

    /// <summary>The version the nats-server connected to reports.</summary>
    public string ServerVersion => _buckets.ServerVersion;

    /// <summary>JetStream on the same connection, for the audit stream.</summary>
    public NATS.Client.JetStream.NatsJSContext JetStream => _buckets.JetStream;

    /// <summary>The users bucket of the same cluster, for the user store.</summary>
    public NATS.Client.KeyValueStore.INatsKVStore UsersBucket => _buckets.Users;

    public IFileStore ForUser(UserAccount user) => StoreOf(NatsKeys.Token(user.Name), user.Name, user.QuotaBytes);

    public IFileStore ForEveryone() => StoreOf(NatsKeys.EveryoneToken, "(no login)", quotaBytes: null);

    /// <summary>The store of one home, made again when the user's quota changed (the store holds no other state).</summary>
    private NatsFileStore StoreOf(string token, string who, long? quotaBytes)
    {
        lock (_stores)
        {
            if (!_stores.TryGetValue(token, out var store) || store.QuotaBytes != quotaBytes)
            {
                // A user with a quota gets the watch that counts their bytes across the cluster, kept from then on.
                NatsQuotaLedger? ledger = null;
                if (quotaBytes is not null && !_ledgers.TryGetValue(token, out ledger))
                    _ledgers[token] = ledger = new NatsQuotaLedger(_buckets, token);
                _stores[token] = store = new NatsFileStore(_buckets, token, $"nats:{_options.BucketPrefix}/{who}", quotaBytes, ledger);
            }
            return store;
        }
    }

    /// <summary>
    /// Deletes objects older than <paramref name="cutoff"/> that no name points to: uploads that were abandoned, failed
    /// their checksum or lost a race, and the old contents of replaced or removed files. Younger ones may belong to an
    /// upload still under way on some server, so they wait for a later sweep. Also deletes quota reservations whose lease
    /// ran out (their server died) and the markers deleted names leave behind once they are old.
    /// </summary>
    public async ValueTask<(int Deleted, int Places)> SweepPartialUploadsAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var (key, value, revision) in await _buckets.ReadBulkRawAsync(NatsKeys.AllReservations, cancellationToken).ConfigureAwait(false))
        {
            var reservation = System.Text.Json.JsonSerializer.Deserialize(value, NatsJsonContext.Default.NatsReservation);
            if (reservation is null || reservation.ExpiresUnixMs < now)
                await _buckets.TryDeleteAsync(key, revision, cancellationToken).ConfigureAwait(false);
        }
        await _buckets.Meta.PurgeDeletesAsync(new NATS.Client.KeyValueStore.NatsKVPurgeOpts { DeleteMarkersThreshold = TimeSpan.FromMinutes(30) }, cancellationToken)
            .ConfigureAwait(false);

        // Uploads idle for longer than the cutoff are given up; the parts of the others are still wanted.
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value, revision) in await _buckets.ReadBulkRawAsync(NatsKeys.AllUploads, cancellationToken).ConfigureAwait(false))
        {
            var upload = System.Text.Json.JsonSerializer.Deserialize(value, NatsJsonContext.Default.NatsUploadState);
            if (upload is not null && upload.UpdatedUnixMs >= cutoff.ToUnixTimeMilliseconds())
                referenced.UnionWith(upload.Parts);
            else
                await _buckets.TryDeleteAsync(key, revision, cancellationToken).ConfigureAwait(false);
        }
        foreach (var (_, value, _) in await _buckets.ReadBulkRawAsync(NatsKeys.AllEntries, cancellationToken).ConfigureAwait(false))
            referenced.UnionWith(System.Text.Json.JsonSerializer.Deserialize(value, NatsJsonContext.Default.NatsEntry)?.Parts ?? []);
        var deleted = 0;
        foreach (var stored in await _buckets.ListObjectsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (referenced.Contains(stored.Name) || stored.StoredAt > cutoff)
                continue;
            try
            {
                await _buckets.Data.DeleteAsync(stored.Name, cancellationToken).ConfigureAwait(false);
                deleted++;
            }
            catch (NatsObjNotFoundException)
            {
                // Gone since it was listed (another server's sweep): nothing left to do.
            }
        }
        deleted += await _buckets.SweepOrphanChunksAsync(_options.DataBucket, cutoff, cancellationToken).ConfigureAwait(false);
        return (deleted, 1);
    }

    public async ValueTask DisposeAsync()
    {
        List<NatsQuotaLedger> ledgers;
        lock (_stores)
            ledgers = [.. _ledgers.Values];
        foreach (var ledger in ledgers)
            await ledger.DisposeAsync().ConfigureAwait(false);
        await _buckets.DisposeAsync().ConfigureAwait(false);
    }
}
