using System.Threading.Channels;
using Ferry.Protocol.Errors;
using Ferry.Server.Storage;
using Ferry.Sync.Caching;
using Ferry.Sync.Chunking;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Handlers.Sync;

/// <summary>
/// Chunks each file a delta put committed, in the background, into the user's hash cache (docs/protocol.md §5.9.3), so
/// that the next sync of a file that keeps changing finds its basis's chunk list cached instead of reading and chunking
/// the whole basis while the client waits (a 1 GiB basis: about 1 s of two cores).
/// </summary>
/// <remarks>
/// <para>A file is digested <see cref="Delay"/> after its commit and not before: the cache takes only files whose times
/// are older than <see cref="FileDigester.RacyWindow"/> (a write in the same clock step as the commit could leave every
/// field of the identity equal), and a commit sets the file's change time to the moment it happened.</para>
/// <para>Bounded: at most <see cref="MaxQueued"/> files wait (more are not digested: the next sync reads them as before),
/// one is digested at a time with one reader, and a failure only means the next sync reads the file.</para>
/// </remarks>
internal sealed partial class CommittedFileDigests(SyncDigests digests, TimeProvider time, ILogger<CommittedFileDigests> logger) : BackgroundService
{
    /// <summary>Files waiting at most; a burst past it leaves the rest to be read by their next sync.</summary>
    public const int MaxQueued = 256;

    /// <summary>From the commit to the digest: past the racy window, with a margin for coarse file-system clocks.</summary>
    public static readonly TimeSpan Delay = FileDigester.RacyWindow + TimeSpan.FromMilliseconds(500);

    private readonly Channel<Committed> _queue = Channel.CreateBounded<Committed>(
        new BoundedChannelOptions(MaxQueued) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    private readonly record struct Committed(IFileStore Store, string Path, int AverageChunkSize, long Size, long? ModifiedNs, DateTimeOffset At);

    /// <summary>
    /// Queues the file a delta put just committed at <paramref name="path"/> (<paramref name="size"/> bytes, modified at
    /// <paramref name="modifiedNs"/> when the put set a time), chunked with <paramref name="averageChunkSize"/>.
    /// </summary>
    public void Queue(IFileStore store, string path, int averageChunkSize, long size, long? modifiedNs) =>
        _queue.Writer.TryWrite(new Committed(store, path, averageChunkSize, size, modifiedNs, time.GetUtcNow()));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var committed in _queue.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                var wait = committed.At + Delay - time.GetUtcNow();
                if (wait > TimeSpan.Zero)
                    await Task.Delay(wait, time, stoppingToken).ConfigureAwait(false);
                await DigestAsync(committed, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task DigestAsync(Committed committed, CancellationToken cancellationToken)
    {
        try
        {
            // Through the store, as any handler reads: the jail holds, and a file removed or replaced since is what it is now.
            await using var file = await committed.Store.OpenReadAsync(committed.Path, cancellationToken).ConfigureAwait(false);
            // Replaced or rewritten since (another put, a command): that file is not the one a sync just wrote, and its
            // own next sync reads it if needed. Digesting it would be correct, only wasted work.
            if (file is not ILocalFileAccess { Handle: var handle } || FileStat.Get(handle) is var now
                && (now.Size != committed.Size || committed.ModifiedNs is { } modified && now.ModifiedNs != modified))
            {
                Skipped(logger, committed.Path);
                return;
            }
            var cache = await digests.ForAsync(committed.Store, cancellationToken).ConfigureAwait(false);
            await digests.DigestAsync(cache, file, ChunkingParameters.ForAverageSize(committed.AverageChunkSize), cancellationToken, workers: 1).ConfigureAwait(false);
            await digests.SaveAsync(cache, cancellationToken).ConfigureAwait(false);
            Digested(logger, committed.Path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FerryException or ArgumentException)
        {
            Failed(logger, committed.Path, ex.Message);
        }
    }

    [LoggerMessage(Logging.LogEvents.CommittedFileDigested, LogLevel.Debug, "Chunked the committed file {Path} into the hash cache")]
    private static partial void Digested(ILogger logger, string path);

    [LoggerMessage(Logging.LogEvents.CommittedFileDigestSkipped, LogLevel.Debug, "The committed file {Path} was replaced or changed since: not chunked")]
    private static partial void Skipped(ILogger logger, string path);

    [LoggerMessage(Logging.LogEvents.CommittedFileDigestFailed, LogLevel.Debug, "The committed file {Path} was not chunked into the hash cache: {Reason}")]
    private static partial void Failed(ILogger logger, string path, string reason);
}
