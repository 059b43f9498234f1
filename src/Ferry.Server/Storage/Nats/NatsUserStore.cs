using Ferry.Server.Auth;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.KeyValueStore;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// The users of a NATS-backed server, from the shared users bucket: read in full at start, then kept current by a watch,
/// so a user added, changed or removed on any machine (<c>ferry user ... --store nats://</c>) reaches every server
/// within moments, with no restart or signal. A malformed record is skipped with a warning, never taken half.
/// </summary>
internal sealed partial class NatsUserStore : IUserStore, IHostedService, IAsyncDisposable
{
    private static readonly NatsRawSerializer<byte[]> s_raw = NatsRawSerializer<byte[]>.Default;

    private readonly INatsKVStore _bucket;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private int _disposed;
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<string, UserAccount> _byKey = new(StringComparer.Ordinal);
    private volatile IReadOnlyDictionary<string, UserAccount> _users = new Dictionary<string, UserAccount>();
    private int _generation;
    private Task? _watch;

    public NatsUserStore(INatsKVStore bucket, string description, ILogger<NatsUserStore> logger)
    {
        _bucket = bucket;
        _logger = logger;
        Description = description;
    }

    public string Description { get; }

    /// <summary>
    /// Reads every user and starts the watch that keeps them current; returns once the first full read is in, so the
    /// server (started after this) never answers a login from an empty list.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _watch ??= Task.Run(WatchAsync, CancellationToken.None); // runs until stopped, not until start-up ends
        await _loaded.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _disposed) != 0)
            return; // the host stops it, then disposes it, and may dispose it again
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_watch is not null)
            await _watch.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public int Count => _users.Count;
    public int Generation => Volatile.Read(ref _generation);
    public IReadOnlyCollection<UserAccount> All => [.. _users.Values];

    public bool TryGet(string name, out UserAccount account)
    {
        if (_users.TryGetValue(name, out var found))
        {
            account = found;
            return true;
        }
        account = null!;
        return false;
    }

    private async Task WatchAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var opts = new NatsKVWatchOpts { OnNoData = _ => { Publish(); return ValueTask.FromResult(false); } };
                await foreach (var entry in _bucket.WatchAsync(">", s_raw, opts, _stop.Token).ConfigureAwait(false))
                {
                    Apply(entry);
                    if (entry.Delta == 0)
                        Publish(); // caught up: one swap for the whole initial read, then one per change
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NatsException or TimeoutException)
            {
                WatchFailed(_logger, ex);
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
        if (entry.Operation != NatsKVOperation.Put || entry.Value is not { Length: > 0 } value)
        {
            _byKey.Remove(entry.Key);
            return;
        }
        try
        {
            _byKey[entry.Key] = NatsUserRecords.Decode(entry.Key, value);
        }
        catch (InvalidDataException ex)
        {
            _byKey.Remove(entry.Key); // a record that cannot be read is nobody: no half-understood permissions
            RecordRejected(_logger, entry.Key, ex.Message);
        }
    }

    /// <summary>Makes what the watch has read the users the server sees, and tells open sessions to look again.</summary>
    private void Publish()
    {
        _users = _byKey.Values.ToDictionary(u => u.Name, StringComparer.Ordinal);
        Interlocked.Increment(ref _generation);
        if (!_loaded.TrySetResult())
            UsersChanged(_logger, _users.Count);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            _stop.Dispose();
    }

    [LoggerMessage(Logging.LogEvents.NatsUserRecordRejected, LogLevel.Warning, "The user record {Key} in the NATS store is skipped: {Reason}")]
    private static partial void RecordRejected(ILogger logger, string key, string reason);

    [LoggerMessage(Logging.LogEvents.NatsUsersChanged, LogLevel.Information, "The users in the NATS store changed: {Count} user(s) now")]
    private static partial void UsersChanged(ILogger logger, int count);

    [LoggerMessage(Logging.LogEvents.NatsUserWatchFailed, LogLevel.Warning, "Watching the users in the NATS store failed; trying again")]
    private static partial void WatchFailed(ILogger logger, Exception exception);
}
