using Ferry.Protocol.Errors;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using NATS.Client.ObjectStore;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// Rides out the seconds a cluster needs to elect a new leader after losing a node: a call that timed out, found no
/// responder or was told "temporarily unavailable" is made again, for up to <see cref="Patience"/>; after that it is
/// io_error that says so. A refusal (wrong revision, not found, bad request) is never retried.
/// </summary>
/// <remarks>
/// A retried write may already have been applied before its answer was lost; every write here is create-only or
/// compare-and-set, so the repeat is refused as a conflict instead of being applied twice.
/// </remarks>
internal static class NatsRetry
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    /// <summary>JetStream's error code for "no suitable peers for placement" (JSClusterNoPeersErr).</summary>
    private const int NoPeersForPlacement = 10005;

    public static async ValueTask<T> RunAsync<T>(Func<CancellationToken, ValueTask<T>> call, string what, CancellationToken cancellationToken)
    {
        var started = TimeProvider.System.GetTimestamp();
        var wait = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                return await call(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                if (TimeProvider.System.GetElapsedTime(started) + wait > Patience)
                    throw new FerryException(FerryErrorCode.IoError, $"The NATS store did not answer while {what} ({ex.Message}); try again.", ex);
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
            }
            catch (Exception ex) when (ex is NatsException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                throw new FerryException(FerryErrorCode.IoError, $"The NATS store failed while {what}: {ex.Message}", ex);
            }
        }
    }

    /// <summary>
    /// Failures that a new leader, a reconnection or a node coming back cures: JetStream's 503 ("no leader /
    /// unavailable"), and "no suitable peers for placement" (error 10005), which a cluster answers to a stream it cannot
    /// place yet: just after it started, before its leader has heard from every peer, or while a node is away.
    /// </summary>
    public static bool IsTransient(Exception ex) => ex switch
    {
        NatsJSApiException api => api.Error.Code is 503 or 408 or 500 || api.Error.ErrCode == NoPeersForPlacement,
        NatsKVException or NatsObjException or NatsDeserializeException or NatsPayloadTooLargeException or NatsProtocolViolationException => false,
        NatsException or TimeoutException => true,
        _ => false,
    };
}
