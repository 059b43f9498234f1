using System.Buffers;
using System.Text;
using System.Threading.Channels;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Handlers;

namespace Ferry.Server.Exec;

/// <summary>
/// A command's conversation over a TCP connection (docs/protocol.md §6.1): its output goes out as stdout and stderr
/// frames and its end as exit; stdin, stdin_end and signal frames come in until the client's exec_done. How the command
/// runs (limits, kill, drain) is <see cref="CommandRunner"/>'s, as for every transport.
/// </summary>
internal sealed class TcpCommandStream(CommandContext context, long id) : ICommandOutputSink, ICommandInput
{
    private const int ChunkBytes = 64 * 1024;

    /// <summary>Stdin chunks queued for a command that is slow to read them (4 MiB).</summary>
    private const int StdinQueueChunks = 64;

    public async ValueTask StartedAsync(CancellationToken cancellationToken)
    {
        context.Writer.WriteHeader(new ExecStartedMessage { Id = id, Encoding = OutputEncodingName }, FerryJsonContext.Default.ExecStartedMessage);
        await context.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask WriteAsync(CommandOutputStream stream, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        context.Writer.WriteHeader(new ExecOutputMessage { IsError = stream == CommandOutputStream.Stderr, Id = id, BodySize = data.Length },
            FerryJsonContext.Default.ExecOutputMessage, data.Length);
        context.Writer.WriteBody(data.Span);
        await context.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask CompletedAsync(CommandOutcome outcome, CancellationToken cancellationToken)
    {
        context.Writer.WriteHeader(new ExecExitMessage
        {
            Id = id,
            Code = outcome.Code,
            TimedOut = outcome.TimedOut,
            Truncated = outcome.Truncated,
            Killed = outcome.SignalledByClient,
            Signal = outcome.SignalName,
            CoreDumped = outcome.SignalName is null ? null : outcome.CoreDumped,
        }, FerryJsonContext.Default.ExecExitMessage);
        await context.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string OutputEncodingName => OperatingSystem.IsWindows()
        ? Encoding.GetEncoding(System.Globalization.CultureInfo.CurrentCulture.TextInfo.OEMCodePage).WebName
        : "utf-8";

    /// <summary>
    /// Reads stdin, stdin_end and signal frames until exec_done; fails if the client disappears. Stdin is handed to a
    /// separate writer through a bounded queue, so a command that does not read its input cannot keep the loop from
    /// seeing a signal or the client's departure.
    /// </summary>
    public async Task RunAsync(RunningCommand command, CancellationToken cancellationToken)
    {
        var stdin = command.StandardInput;
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
        _ = command.Exited.ContinueWith(_ => CancelQuietly(exited), TaskScheduler.Default);
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
                        command.Signal(frame.Deserialize(FerryJsonContext.Default.ExecSignalMessage).Signal);
                        break;
                    case CommandNames.WindowChange:
                        var window = frame.Deserialize(FerryJsonContext.Default.WindowChangeMessage);
                        if (!command.Resize(TerminalSize.Of(window.Columns, window.Rows, window.XPixels, window.YPixels, isFatal: true)))
                            throw new FerryProtocolException(FerryErrorCode.UnexpectedFrame, "window_change is only for a command that runs on a terminal (exec with tty).", isFatal: true);
                        break;
                    case CommandNames.ExecDone:
                        return;
                    default:
                        throw new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                            $"'{frame.Command}' arrived while a command was running; only stdin, stdin_end, signal, window_change and exec_done may.", isFatal: true);
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

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try { source.Cancel(); } catch (ObjectDisposedException) { } // the loop ended first
    }

    private static void CloseQuietly(Stream stream)
    {
        try { stream.Dispose(); } catch (IOException) { }
    }
}
