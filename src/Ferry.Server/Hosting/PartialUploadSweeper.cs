using Ferry.Server.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ferry.Server.Hosting;

/// <summary>Deletes partial uploads older than <see cref="FerryServerOptions.PartialUploadTtl"/>, at start and hourly.</summary>
internal sealed partial class PartialUploadSweeper(IFileStore store, IOptions<FerryServerOptions> options, ILogger<PartialUploadSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var ttl = options.Value.PartialUploadTtl;
        var period = ttl < TimeSpan.FromHours(1) ? ttl : TimeSpan.FromHours(1);
        using var timer = new PeriodicTimer(period < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : period);
        do
        {
            try
            {
                var removed = await Task.Run(() => store.SweepPartialUploads(ttl), stoppingToken).ConfigureAwait(false);
                if (removed > 0)
                    Swept(logger, removed, ttl);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                SweepFailed(logger, ex);
            }
        }
        while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false));
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

    [LoggerMessage(1100, LogLevel.Information, "Deleted {Count} partial upload(s) older than {Ttl}")]
    private static partial void Swept(ILogger logger, int count, TimeSpan ttl);

    [LoggerMessage(1101, LogLevel.Warning, "Sweeping partial uploads failed")]
    private static partial void SweepFailed(ILogger logger, Exception exception);
}
