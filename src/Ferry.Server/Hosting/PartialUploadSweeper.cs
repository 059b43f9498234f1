using Ferry.Server.Auth;
using Ferry.Server.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ferry.Server.Hosting;

/// <summary>
/// Deletes partial uploads older than <see cref="FerryServerOptions.PartialUploadTtl"/>, at start and hourly, wherever the
/// file store provider keeps them (the local one: under the root and in every user's home, also homes outside the root),
/// but never the part file of an upload in progress in any store of the server.
/// </summary>
internal sealed partial class PartialUploadSweeper(
    IFileStoreProvider stores, TimeProvider time, IOptions<FerryServerOptions> options, ILogger<PartialUploadSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var ttl = options.Value.PartialUploadTtl;
        var period = ttl < TimeSpan.FromHours(1) ? ttl : TimeSpan.FromHours(1);
        using var timer = new PeriodicTimer(period < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : period, time);
        do
        {
            try
            {
                await Task.Run(() => SweepOnceAsync(stoppingToken), stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A sweep that fails (a folder it may not read, a NATS cluster between leaders) is tried again next
                // period; it must never stop the server.
                SweepFailed(logger, ex);
            }
        }
        while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false));
    }

    /// <summary>One pass over the root and every home; returns how many partial uploads were deleted.</summary>
    internal async Task<int> SweepOnceAsync(CancellationToken cancellationToken)
    {
        var ttl = options.Value.PartialUploadTtl;
        var (removed, places) = await stores.SweepPartialUploadsAsync(time.GetUtcNow() - ttl, cancellationToken).ConfigureAwait(false);
        if (removed > 0)
            Swept(logger, removed, ttl);
        SweepDone(logger, removed, places);
        return removed;
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(Logging.LogEvents.PartialUploadsSwept, LogLevel.Information, "Deleted {Count} partial upload(s) older than {Ttl}")]
    private static partial void Swept(ILogger logger, int count, TimeSpan ttl);

    [LoggerMessage(Logging.LogEvents.PartialUploadSweepFailed, LogLevel.Warning, "Sweeping partial uploads failed")]
    private static partial void SweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(Logging.LogEvents.PartialUploadSweepDone, LogLevel.Debug, "Partial-upload sweep done: {Count} deleted in {Folders} folder(s)")]
    private static partial void SweepDone(ILogger logger, int count, int folders);
}
