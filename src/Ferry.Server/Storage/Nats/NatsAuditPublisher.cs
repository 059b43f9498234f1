using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Ferry.Protocol.Errors;
using Ferry.Server.Auth;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// Publishes every audit record into a JetStream stream, one JSON message on <c>{stream}.{server}</c>. A login or a
/// command only puts its record in a bounded queue and goes on; one loop publishes them in order. When the queue is full
/// or the cluster does not acknowledge a record, the record is dropped and counted, and a warning says how many (at most
/// one a minute), so that an unreachable cluster costs audit records, never commands.
/// </summary>
internal sealed partial class NatsAuditPublisher : IAuditSink, IAsyncDisposable
{
    /// <summary>Records waiting at most; a few seconds of a busy server's logins and commands.</summary>
    public const int QueueCapacity = 10_000;

    private static readonly TimeSpan s_publishTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_warningInterval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan s_drainOnStop = TimeSpan.FromSeconds(3);

    private readonly INatsJSContext _js;
    private readonly ILogger _logger;
    private readonly Channel<string> _queue;
    private readonly int _capacity;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _dropped;
    private long _droppedSinceWarning;
    private long _published;
    private long _lastWarningTicks = long.MinValue;

    /// <summary>Starts publishing into <paramref name="stream"/>, which <see cref="EnsureStreamAsync"/> has made sure of.</summary>
    /// <param name="capacity">Records the queue holds before new ones are dropped.</param>
    public NatsAuditPublisher(INatsJSContext js, string stream, ILogger logger, int capacity = QueueCapacity)
    {
        _capacity = capacity;
        _queue = Channel.CreateBounded<string>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // with Wait, TryWrite says false when full: the drop is ours to count
        });
        _js = js;
        Stream = stream;
        Subject = stream + "." + SubjectToken(Environment.MachineName);
        _logger = logger;
        _loop = Task.Run(() => PublishLoopAsync(_stop.Token));
    }

    public string Stream { get; }

    /// <summary>Where this server's records go: the stream's name and the machine's name (characters a subject cannot hold become '_').</summary>
    public string Subject { get; }

    /// <summary>Records dropped since start: queue full or not acknowledged.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Records the cluster acknowledged.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>
    /// Creates the stream if missing (subjects <c>{stream}.&gt;</c>, file storage, the store's replicas, records kept for
    /// <paramref name="maxAge"/>) or updates its limits. A cluster that refuses is io_error.
    /// </summary>
    public static async Task EnsureStreamAsync(INatsJSContext js, string stream, int replicas, TimeSpan maxAge, CancellationToken cancellationToken)
    {
        var config = new StreamConfig(stream, [stream + ".>"])
        {
            NumReplicas = replicas,
            MaxAge = maxAge,
            Storage = StreamConfigStorage.File,
            Discard = StreamConfigDiscard.Old,
        };
        try
        {
            await NatsRetry.RunAsync(async c => await js.CreateOrUpdateStreamAsync(config, c).ConfigureAwait(false), "creating the audit stream", cancellationToken)
                .ConfigureAwait(false);
        }
        catch (NatsJSApiException ex)
        {
            throw new FerryException(FerryErrorCode.IoError, $"The audit stream {stream} cannot be created or updated: {ex.Error.Description}", ex);
        }
    }

    public void Write(string record)
    {
        if (!_queue.Writer.TryWrite(record))
            Drop($"the queue of {_capacity} records is full");
    }

    private async Task PublishLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var record in _queue.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    timeout.CancelAfter(s_publishTimeout);
                    var ack = await _js.PublishAsync(Subject, Encoding.UTF8.GetBytes(record), cancellationToken: timeout.Token).ConfigureAwait(false);
                    ack.EnsureSuccess();
                    Interlocked.Increment(ref _published);
                }
                catch (Exception ex) when (ex is NatsException or OperationCanceledException or TimeoutException)
                {
                    if (cancellationToken.IsCancellationRequested)
                    {
                        // The one on its way when the server stopped; the rest are counted on the way out.
                        Interlocked.Increment(ref _dropped);
                        Interlocked.Increment(ref _droppedSinceWarning);
                        return;
                    }
                    Drop(ex is OperationCanceledException ? $"no acknowledgement within {s_publishTimeout.TotalSeconds} s" : ex.Message);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: what is still queued is counted below.
        }
    }

    private void Drop(string reason)
    {
        Interlocked.Increment(ref _dropped);
        var count = Interlocked.Increment(ref _droppedSinceWarning);
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastWarningTicks);
        if (last != long.MinValue && now - last < s_warningInterval.TotalMilliseconds)
            return;
        if (Interlocked.CompareExchange(ref _lastWarningTicks, now, last) != last)
            return; // another thread warns for this minute
        Interlocked.Add(ref _droppedSinceWarning, -count);
        RecordsDropped(_logger, count, Stream, reason, (int)s_warningInterval.TotalSeconds);
    }

    public async ValueTask DisposeAsync()
    {
        // Give the records of the last moments a short while to reach the cluster, then stop.
        _queue.Writer.TryComplete();
        _stop.CancelAfter(s_drainOnStop);
        await _loop.ConfigureAwait(false);
        var left = 0;
        while (_queue.Reader.TryRead(out _))
            left++;
        Interlocked.Add(ref _dropped, left);
        // Drops the rate limit held back are told now, with those the stop cost, rather than never.
        var untold = Interlocked.Exchange(ref _droppedSinceWarning, 0) + left;
        if (untold > 0)
            RecordsDropped(_logger, untold, Stream, "not published by the time the server stopped", (int)s_warningInterval.TotalSeconds);
        _stop.Dispose();
    }

    private static string SubjectToken(string name)
    {
        var token = UnsafeSubjectCharacters().Replace(name, "_");
        return token.Length == 0 ? "server" : token;
    }

    [GeneratedRegex("[^A-Za-z0-9_-]")]
    private static partial Regex UnsafeSubjectCharacters();

    [LoggerMessage(Logging.LogEvents.NatsAuditRecordsDropped, LogLevel.Warning,
        "{Count} audit record(s) not published to the stream {Stream}: {Reason} (said at most every {Seconds} s; the audit file, if any, has them)")]
    private static partial void RecordsDropped(ILogger logger, long count, string stream, string reason, int seconds);
}
