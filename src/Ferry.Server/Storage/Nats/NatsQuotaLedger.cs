using System.Text.Json;
using Ferry.Protocol.Errors;
using NATS.Client.Core;
using NATS.Client.KeyValueStore;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// One user's quota as every server of the cluster sees it: a watch on the user's entries and reservations keeps the
/// bytes of their files and the room held by uploads in progress anywhere. An upload is admitted by order, not by a
/// counter: it creates its reservation (create-only writes are checked when applied, on every server version), waits
/// until the watch has seen the stream up to that reservation, and fits if the files plus every earlier live reservation
/// plus itself stay within the limit. Two servers admitting at once therefore agree on who came first, and the later one
/// counts the earlier one; no compare-and-set of a shared counter is needed (which nats-server before 2.9.21 could let
/// two writers win).
/// </summary>
/// <remarks>
/// The watch is a consumer, and nats-server 2.9.10 could not place consumers for minutes while a node was away. An
/// upload whose reservation the watch has not seen within <see cref="WatchWait"/> is therefore counted from the
/// stream's leader instead (every key of the user read once, <see cref="NatsBuckets.ListRawAsync"/>): the same rule,
/// one request per key, answered as long as the stream has a leader.
/// </remarks>
internal sealed class NatsQuotaLedger : IAsyncDisposable
{
    private static readonly NatsRawSerializer<byte[]> s_raw = NatsRawSerializer<byte[]>.Default;

    /// <summary>How long a reservation holds without renewal: a server that died stops blocking its user after this.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(5);

    /// <summary>How long an upload waits for the watch before it counts from the leader.</summary>
    public static readonly TimeSpan WatchWait = TimeSpan.FromSeconds(3);

    private readonly NatsBuckets _buckets;
    private readonly INatsKVStore _meta;
    private readonly string _userToken;
    private readonly Dictionary<string, long> _files = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long Bytes, long ExpiresUnixMs, ulong Revision)> _reservations = new(StringComparer.Ordinal);
    private readonly List<(ulong Revision, TaskCompletionSource Seen)> _waiters = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _watch;
    private ulong _seen;

    public NatsQuotaLedger(NatsBuckets buckets, string userToken)
    {
        _buckets = buckets;
        _meta = buckets.Meta;
        _userToken = userToken;
        _watch = Task.Run(WatchAsync, CancellationToken.None);
    }

    private async Task WatchAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await foreach (var entry in _meta.WatchAsync(NatsKeys.QuotaScope(_userToken), s_raw, new NatsKVWatchOpts(), _stop.Token).ConfigureAwait(false))
                    Apply(entry);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NatsException or TimeoutException or JsonException)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private void Apply(NatsKVEntry<byte[]> entry)
    {
        List<TaskCompletionSource> released = [];
        lock (_files)
        {
            var live = entry.Operation == NatsKVOperation.Put && entry.Value is { Length: > 0 };
            if (NatsKeys.IsReservation(entry.Key))
            {
                if (live && JsonSerializer.Deserialize(entry.Value!, NatsJsonContext.Default.NatsReservation) is { } reservation)
                    _reservations[entry.Key] = (reservation.Bytes, reservation.ExpiresUnixMs, entry.Revision);
                else
                    _reservations.Remove(entry.Key);
            }
            else if (!NatsKeys.IsEntry(entry.Key))
            {
                // an upload in progress: its room is its reservation
            }
            else if (live && JsonSerializer.Deserialize(entry.Value!, NatsJsonContext.Default.NatsEntry) is { IsDirectory: false } file)
            {
                _files[entry.Key] = file.Size;
            }
            else
            {
                _files.Remove(entry.Key);
            }
            _seen = Math.Max(_seen, entry.Revision);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Revision <= _seen)
                {
                    released.Add(_waiters[i].Seen);
                    _waiters.RemoveAt(i);
                }
            }
        }
        foreach (var waiter in released)
            waiter.TrySetResult();
    }

    /// <summary>
    /// Reserves <paramref name="bytes"/> (an upload's size less what it replaces) under <paramref name="limit"/>, or throws
    /// quota_exceeded after taking the reservation back. The returned reservation is the upload's to renew and release.
    /// </summary>
    public async Task<NatsQuotaReservation> ReserveAsync(long bytes, long limit, CancellationToken cancellationToken)
    {
        var key = NatsKeys.Reservation(_userToken, NatsKeys.NewId());
        var value = Encode(bytes);
        // Made again while the cluster is between leaders; a repeat of a create that was applied finds its own key.
        var revision = await _buckets.TryCreateRawAsync(key, value, cancellationToken).ConfigureAwait(false)
            ?? (await _buckets.GetRawAsync(key, cancellationToken).ConfigureAwait(false))?.Revision
            ?? throw new FerryException(FerryErrorCode.IoError, "The NATS store did not take the quota reservation.");
        var reservation = new NatsQuotaReservation(_meta, key, revision);
        try
        {
            long used, earlier;
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            if (await SeenAsync(revision, cancellationToken).ConfigureAwait(false))
            {
                lock (_files)
                {
                    used = _files.Values.Sum();
                    earlier = _reservations.Values.Where(r => r.Revision < revision && r.ExpiresUnixMs > now).Sum(r => Math.Max(0, r.Bytes));
                }
            }
            else
            {
                (used, earlier) = await CountFromLeaderAsync(revision, now, cancellationToken).ConfigureAwait(false);
            }
            if (bytes > 0 && used + earlier + bytes > limit)
                throw new FerryException(FerryErrorCode.QuotaExceeded,
                    $"The upload needs {bytes} more bytes; {used} are stored and {earlier} held by uploads in progress, of a quota of {limit}. Nothing was sent.");
            return reservation;
        }
        catch
        {
            await reservation.ReleaseAsync().ConfigureAwait(false);
            throw;
        }
    }

    public static byte[] Encode(long bytes) => JsonSerializer.SerializeToUtf8Bytes(
        new NatsReservation { Bytes = bytes, ExpiresUnixMs = (DateTimeOffset.UtcNow + Lease).ToUnixTimeMilliseconds() }, NatsJsonContext.Default.NatsReservation);

    /// <summary>
    /// Waits until the watch has applied the stream up to <paramref name="revision"/> (a fresh one reads from the start
    /// first); false when it has not within <see cref="WatchWait"/>.
    /// </summary>
    private async Task<bool> SeenAsync(ulong revision, CancellationToken cancellationToken)
    {
        TaskCompletionSource waiter;
        lock (_files)
        {
            if (_seen >= revision)
                return true;
            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((revision, waiter));
        }
        try
        {
            await waiter.Task.WaitAsync(WatchWait, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            lock (_files)
                _waiters.RemoveAll(w => w.Seen == waiter);
            return false;
        }
    }

    /// <summary>The user's stored bytes and the bytes of live reservations before <paramref name="revision"/>, as the leader has them.</summary>
    private async Task<(long Used, long Earlier)> CountFromLeaderAsync(ulong revision, long nowUnixMs, CancellationToken cancellationToken)
    {
        long used = 0, earlier = 0;
        foreach (var (key, value, at) in await _buckets.ListRawAsync(NatsKeys.QuotaScope(_userToken), cancellationToken).ConfigureAwait(false))
        {
            if (NatsKeys.IsReservation(key))
            {
                if (at < revision && JsonSerializer.Deserialize(value, NatsJsonContext.Default.NatsReservation) is { } reservation
                    && reservation.ExpiresUnixMs > nowUnixMs)
                    earlier += Math.Max(0, reservation.Bytes);
            }
            else if (NatsKeys.IsEntry(key) && JsonSerializer.Deserialize(value, NatsJsonContext.Default.NatsEntry) is { IsDirectory: false } file)
            {
                used += file.Size;
            }
        }
        return (used, earlier);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _watch.ConfigureAwait(false);
        _stop.Dispose();
    }
}
