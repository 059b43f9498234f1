using NATS.Client.Core;
using NATS.Client.KeyValueStore;

namespace Ferry.Server.Storage.Nats;

/// <summary>An admitted upload's reservation: renewed while it runs, deleted when it ends (committed or not).</summary>
internal sealed class NatsQuotaReservation(INatsKVStore meta, string key, ulong revision)
{
    /// <summary>How often a running upload renews its lease (a fifth of it).</summary>
    public static readonly TimeSpan RenewEvery = NatsQuotaLedger.Lease / 5;

    private readonly System.Diagnostics.Stopwatch _sinceRenewal = System.Diagnostics.Stopwatch.StartNew();
    private ulong _revision = revision;
    private bool _released;

    /// <summary>Renews the lease when a fifth of it has passed; a failed renewal is tried again at the next write.</summary>
    public async ValueTask RenewIfDueAsync(long bytes, CancellationToken cancellationToken)
    {
        if (_released || _sinceRenewal.Elapsed < RenewEvery)
            return;
        var result = await meta.TryUpdateAsync(key, NatsQuotaLedger.Encode(bytes), _revision, NatsRawSerializer<byte[]>.Default, cancellationToken).ConfigureAwait(false);
        if (result.Success)
        {
            _revision = result.Value;
            _sinceRenewal.Restart();
        }
    }

    /// <summary>Gives the room back; when the cluster cannot be reached, the lease runs out and the sweep deletes it.</summary>
    public async ValueTask ReleaseAsync()
    {
        if (_released)
            return;
        _released = true;
        try
        {
            await meta.TryDeleteAsync(key, new NatsKVDeleteOpts { Revision = _revision }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException)
        {
        }
    }
}
