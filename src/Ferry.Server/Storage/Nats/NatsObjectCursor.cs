using System.IO.Pipelines;
using Ferry.Protocol.Errors;
using NATS.Client.Core;
using NATS.Client.ObjectStore;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// The file's bytes from a position on, fed part after part (<see cref="NatsPartReader"/>) into a bounded pipe: the part that holds
/// the position is read from its start and the bytes before the position skipped.
/// </summary>
internal sealed class NatsObjectCursor : IAsyncDisposable
{
    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 2 * 1024 * 1024, resumeWriterThreshold: 1024 * 1024, useSynchronizationContext: false));
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _feed;
    private readonly Stream _reader;

    public NatsObjectCursor(NatsBuckets buckets, IReadOnlyList<string> parts, long partSize, long offset)
    {
        var first = partSize > 0 ? (int)Math.Min(parts.Count, offset / partSize) : 0;
        Position = (long)first * partSize;
        _reader = _pipe.Reader.AsStream();
        _feed = Task.Run(() => FeedAsync(buckets, parts, first));
    }

    /// <summary>
    /// Copies the parts into the pipe in order, the next part already being fetched into a pipe of its own while the
    /// current one is copied: each part starts with round trips to the cluster (its object's record, then its first
    /// chunk) that would otherwise stall the file between every two parts.
    /// </summary>
    private async Task FeedAsync(NatsBuckets buckets, IReadOnlyList<string> parts, int first)
    {
        var writer = _pipe.Writer.AsStream();
        (Pipe Pipe, Task Fetch)? next = null;
        try
        {
            for (var i = first; i < parts.Count; i++)
            {
                var current = next ?? Fetch(buckets, parts[i]);
                next = i + 1 < parts.Count ? Fetch(buckets, parts[i + 1]) : null;
                await current.Pipe.Reader.CopyToAsync(writer, _stop.Token).ConfigureAwait(false);
                await current.Pipe.Reader.CompleteAsync().ConfigureAwait(false);
                await current.Fetch.ConfigureAwait(false);
            }
            await _pipe.Writer.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await _pipe.Writer.CompleteAsync(ex).ConfigureAwait(false);
        }
        finally
        {
            if (next is { } abandoned)
            {
                await _stop.CancelAsync().ConfigureAwait(false);
                await abandoned.Pipe.Reader.CompleteAsync().ConfigureAwait(false);
                await abandoned.Fetch.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>
    /// Starts reading one part into a pipe of its own (bounded like the cursor's), made again from where it stopped
    /// while the cluster is between leaders.
    /// </summary>
    private (Pipe Pipe, Task Fetch) Fetch(NatsBuckets buckets, string part)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 2 * 1024 * 1024, resumeWriterThreshold: 1024 * 1024, useSynchronizationContext: false));
        var fetch = Task.Run(async () =>
        {
            var into = pipe.Writer.AsStream();
            try
            {
                await NatsPartReader.CopyAsync(buckets, part, into, _stop.Token).ConfigureAwait(false);
                await pipe.Writer.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                await pipe.Writer.CompleteAsync(ex).ConfigureAwait(false);
            }
        });
        return (pipe, fetch);
    }

    public long Position { get; private set; }

    /// <summary>Set while one reader uses it (under the file's lock).</summary>
    public bool Busy { get; set; }

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int n;
        try
        {
            n = await _reader.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or NatsObjException or TimeoutException)
        {
            throw new FerryException(FerryErrorCode.IoError, $"The NATS store could not read the file: {ex.Message}", ex);
        }
        Position += n;
        return n;
    }

    public async ValueTask SkipAsync(long count, CancellationToken cancellationToken)
    {
        var scratch = new byte[64 * 1024];
        while (count > 0)
        {
            var n = await ReadAsync(scratch.AsMemory(0, (int)Math.Min(scratch.Length, count)), cancellationToken).ConfigureAwait(false);
            if (n == 0)
                return;
            count -= n;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _pipe.Reader.CompleteAsync().ConfigureAwait(false);
        try
        {
            await _feed.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or NatsException)
        {
        }
        _stop.Dispose();
    }
}
