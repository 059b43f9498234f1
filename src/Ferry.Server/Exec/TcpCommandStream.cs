using System.Buffers;
using System.Text;
using System.Threading.Channels;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Handlers;

namespace Ferry.Server.Exec;

/// <summary>One command running over a TCP connection (docs/protocol.md §6): two output pumps, one input loop, one exit.</summary>
internal sealed class TcpCommandStream(CommandContext context, long id, ProcessGroup group, long maxOutput)
{
    private const int ChunkBytes = 64 * 1024;

    /// <summary>Stdin chunks queued for a command that is slow to read them (4 MiB).</summary>
    private const int StdinQueueChunks = 64;

    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private long _sent;
    private int _truncated;
    private volatile bool _killed;
    private bool _finished;

    public async Task RunAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var writer = context.Writer;
        writer.WriteHeader(new ExecStartedMessage { Id = id, Encoding = OutputEncodingName }, FerryJsonContext.Default.ExecStartedMessage);
        await context.FlushAsync(cancellationToken).ConfigureAwait(false);

        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var timedOut = false;
        var process = group;
        var stdout = PumpAsync(process.StandardOutput, isError: false, lifetime.Token);
        var stderr = PumpAsync(process.StandardError, isError: true, lifetime.Token);
        var input = InputLoopAsync(process.StandardInput, lifetime.Token);

        using var deadline = new CancellationTokenSource(timeout);
        var exited = process.WaitForExitAsync(deadline.Token);
        try
        {
            // The command ends, or the client goes away (the input loop fails first), or time runs out.
            var first = await Task.WhenAny(exited, input).ConfigureAwait(false);
            if (first == input && !exited.IsCompleted)
            {
                await input.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (input.IsFaulted || input.IsCanceled)
                {
                    group.KillTree();
                    throw input.Exception?.InnerException ?? new IOException("The client went away while its command ran.");
                }
                await exited.ConfigureAwait(false);
            }
            else
            {
                await exited.ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            timedOut = true;
            group.KillTree();
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        // Children that kept the pipes open must not hold the reply back: the group is killed, and a descendant that
        // escaped it gets two seconds before its output is abandoned.
        group.KillTree();
        var drained = Task.WhenAll(stdout, stderr);
        if (await Task.WhenAny(drained, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false) != drained)
            await lifetime.CancelAsync().ConfigureAwait(false);
        if (Volatile.Read(ref _truncated) == 1)
            await SendAsync(Encoding.UTF8.GetBytes($"\n[ferry: output cut after {maxOutput} bytes]\n"), isError: true, force: true, cancellationToken).ConfigureAwait(false);

        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _finished = true;
            writer.WriteHeader(new ExecExitMessage
            {
                Id = id,
                Code = timedOut ? 124 : process.ExitCode,
                TimedOut = timedOut,
                Truncated = Volatile.Read(ref _truncated) == 1,
                Killed = _killed,
            }, FerryJsonContext.Default.ExecExitMessage);
            await context.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }

        // The input loop ends at the client's exec_done.
        await input.ConfigureAwait(false);
    }

    private static string OutputEncodingName => OperatingSystem.IsWindows()
        ? Encoding.GetEncoding(System.Globalization.CultureInfo.CurrentCulture.TextInfo.OEMCodePage).WebName
        : "utf-8";

    private async Task PumpAsync(Stream output, bool isError, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            int n;
            while ((n = await output.ReadAsync(buffer.AsMemory(0, ChunkBytes), cancellationToken).ConfigureAwait(false)) > 0)
                await SendAsync(buffer.AsMemory(0, n), isError, force: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The pipe closed under a kill, or the connection is gone: nothing more to forward.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task SendAsync(ReadOnlyMemory<byte> data, bool isError, bool force, CancellationToken cancellationToken)
    {
        if (!force)
        {
            // Past the limit, output is read and dropped: the command keeps running, memory stays flat.
            var allowed = maxOutput - Interlocked.Read(ref _sent);
            if (allowed <= 0)
            {
                Interlocked.Exchange(ref _truncated, 1);
                return;
            }
            if (data.Length > allowed)
            {
                data = data[..(int)allowed];
                Interlocked.Exchange(ref _truncated, 1);
            }
            Interlocked.Add(ref _sent, data.Length);
        }
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_finished)
                return; // exit was sent; late output from an abandoned pump has nowhere to go
            context.Writer.WriteHeader(new ExecOutputMessage { IsError = isError, Id = id, BodySize = data.Length },
                FerryJsonContext.Default.ExecOutputMessage, data.Length);
            context.Writer.WriteBody(data.Span);
            await context.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Reads stdin, stdin_end and signal frames until exec_done; fails if the client disappears. Stdin is handed to a
    /// separate writer through a bounded queue, so a command that does not read its input cannot keep the loop from
    /// seeing a signal or the client's departure.
    /// </summary>
    private async Task InputLoopAsync(Stream stdin, CancellationToken cancellationToken)
    {
        var reader = context.Reader;
        var idle = reader.Timeouts;
        // A command may run for hours without the client saying anything: only the command's own timeout applies.
        reader.Timeouts = idle with { Idle = Timeout.InfiniteTimeSpan };
        var queue = Channel.CreateBounded<(byte[] Buffer, int Length)>(new BoundedChannelOptions(StdinQueueChunks)
        {
            SingleReader = true,
            SingleWriter = true,
        });
        using var exited = new CancellationTokenSource();
        _ = group.WaitForExitAsync(CancellationToken.None).ContinueWith(_ => exited.Cancel(), TaskScheduler.Default);
        var writer = StdinWriterAsync(queue.Reader, stdin, exited.Token);
        try
        {
            while (true)
            {
                var frame = await reader.ReadFrameAsync(cancellationToken).ConfigureAwait(false)
                    ?? throw new IOException("The client closed the connection while its command ran.");
                switch (frame.Command)
                {
                    case CommandNames.Stdin:
                        await QueueStdinAsync(reader, queue.Writer, exited.Token, cancellationToken).ConfigureAwait(false);
                        break;
                    case CommandNames.StdinEnd:
                        queue.Writer.TryComplete();
                        break;
                    case CommandNames.Signal:
                        var signal = frame.Deserialize(FerryJsonContext.Default.ExecSignalMessage);
                        // After the exit the pid may belong to someone else: signals then go nowhere.
                        if (!exited.IsCancellationRequested)
                        {
                            _killed = true;
                            group.Signal(signal.Signal ?? "KILL");
                        }
                        break;
                    case CommandNames.ExecDone:
                        return;
                    default:
                        throw new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                            $"'{frame.Command}' arrived while a command was running; only stdin, stdin_end, signal and exec_done may.", isFatal: true);
                }
            }
        }
        finally
        {
            reader.Timeouts = idle;
            queue.Writer.TryComplete();
            await exited.CancelAsync().ConfigureAwait(false);
            await writer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            CloseQuietly(stdin);
        }
    }

    /// <summary>Moves one stdin frame's body into the queue, waiting for room unless the command has exited.</summary>
    private static async Task QueueStdinAsync(FrameReader reader, ChannelWriter<(byte[] Buffer, int Length)> queue, CancellationToken exited,
        CancellationToken cancellationToken)
    {
        while (reader.BodyRemaining > 0)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
            var n = await reader.ReadBodyAsync(buffer.AsMemory(0, ChunkBytes), cancellationToken).ConfigureAwait(false);
            try
            {
                await queue.WriteAsync((buffer, n), exited).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
            {
                // The command is gone or its input closed: the rest of the body is skipped.
                ArrayPool<byte>.Shared.Return(buffer);
                await reader.SkipBodyAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
        }
    }

    private static async Task StdinWriterAsync(ChannelReader<(byte[] Buffer, int Length)> queue, Stream stdin, CancellationToken exited)
    {
        var open = true;
        try
        {
            await foreach (var (buffer, length) in queue.ReadAllAsync(exited).ConfigureAwait(false))
            {
                try
                {
                    if (open)
                    {
                        await stdin.WriteAsync(buffer.AsMemory(0, length), exited).ConfigureAwait(false);
                        await stdin.FlushAsync(exited).ConfigureAwait(false);
                    }
                }
                catch (IOException)
                {
                    open = false; // the command closed its input: later bytes are dropped
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            // End of input (stdin_end) or of the command.
            CloseQuietly(stdin);
            while (queue.TryRead(out var left))
                ArrayPool<byte>.Shared.Return(left.Buffer);
        }
    }

    private static void CloseQuietly(Stream stream)
    {
        try { stream.Dispose(); } catch (IOException) { }
    }
}
