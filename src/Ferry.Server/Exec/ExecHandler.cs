using System.Buffers;
using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Server.Diagnostics;
using Ferry.Server.Handlers;
using Ferry.Server.Hosting;

namespace Ferry.Server.Exec;

/// <summary>
/// Runs a command and streams its output (docs/protocol.md §6). While it runs the connection belongs to it: output
/// frames go out as they are produced, stdin and signal frames come in, and a client that goes away takes the whole
/// process tree with it.
/// </summary>
internal sealed class ExecHandler(ExecLimiter limiter, FerryMetrics metrics) : ICommandHandler
{
    private const int ChunkBytes = 64 * 1024;

    /// <summary>Stdin chunks queued for a command that is slow to read them (4 MiB).</summary>
    private const int StdinQueueChunks = 64;

    public string Command => CommandNames.Exec;
    public Permissions RequiredPermission => Permissions.Exec;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        if (!options.AllowExec)
            throw new FerryException(FerryErrorCode.ExecDisabled, "This server does not run commands; its administrator can enable it with --allow-exec.");
        var request = context.Header.Deserialize(FerryJsonContext.Default.ExecMessage);
        var argv = ArgvOf(request);
        var home = context.Session.Store.LocalDirectory("")
            ?? throw new FerryException(FerryErrorCode.ExecFailed, "This server's storage has no local folder to run commands in.");
        var cwd = context.Session.Store.LocalDirectory(RemotePath.Normalize(request.WorkingDirectory ?? ""))!;
        if (!Directory.Exists(cwd))
            throw new FerryException(FerryErrorCode.NotFound, $"The working directory '{request.WorkingDirectory}' does not exist.");

        using var slot = limiter.TryEnter()
            ?? throw new FerryException(FerryErrorCode.ExecLimitReached, $"The server already runs {options.MaxConcurrentExec} commands; try again shortly.");

        ProcessGroup group;
        try
        {
            group = ProcessGroup.Start(argv, cwd, Environment(context.Session.User?.Name, home));
        }
        catch (Win32Exception ex)
        {
            throw new FerryException(FerryErrorCode.ExecFailed, $"'{argv[0]}' could not be started: {ex.Message}.");
        }

        metrics.ExecStarted(udp: false);
        var started = Stopwatch.GetTimestamp();
        var completed = false;
        using (group)
        try
        {
            var run = new RunningCommand(context, request.Id, group, options.MaxExecOutputBytes);
            var timeout = TimeSpan.FromSeconds(Math.Min(request.TimeoutSeconds ?? double.MaxValue, options.ExecTimeout.TotalSeconds));
            await run.RunAsync(timeout, cancellationToken).ConfigureAwait(false);
            completed = true;
        }
        finally
        {
            metrics.ExecEnded(udp: false, Stopwatch.GetElapsedTime(started), completed);
        }
    }

    /// <summary>The program and arguments to start for a request (shell line or argv), checked.</summary>
    internal static List<string> ArgvOf(ExecMessage request)
    {
        if (request.Shell is { Length: > 0 } shell)
        {
            if (request.Argv is { Count: > 0 })
                throw new FerryException(FerryErrorCode.FieldInvalid, "Give either 'argv' or 'shell', not both.");
            return ["/bin/sh", "-c", shell];
        }
        if (request.Argv is not { Count: > 0 } argv || string.IsNullOrEmpty(argv[0]))
            throw new FerryException(FerryErrorCode.FieldInvalid, "exec needs 'argv' (a non-empty list) or 'shell' (a command line).");
        if (argv.Any(a => a.Contains('\0')))
            throw new FerryException(FerryErrorCode.FieldInvalid, "Arguments cannot contain NUL characters.");
        return [.. argv];
    }

    /// <summary>The documented minimal environment (docs/protocol.md §6.3), for TCP and UDP commands alike.</summary>
    internal static Dictionary<string, string> Environment(string? user, string home) => new()
    {
        ["PATH"] = "/usr/local/bin:/usr/bin:/bin",
        ["HOME"] = home,
        ["LANG"] = "C.UTF-8",
        ["LC_ALL"] = "C.UTF-8",
        ["USER"] = user ?? "ferry",
        ["LOGNAME"] = user ?? "ferry",
        ["SHELL"] = "/bin/sh",
        ["TERM"] = "dumb",
        ["FERRY"] = "1",
    };

    /// <summary>One running command: two output pumps, one input loop, one exit.</summary>
    private sealed class RunningCommand(CommandContext context, long id, ProcessGroup group, long maxOutput)
    {
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
}

/// <summary>Caps the commands running at once across the server.</summary>
public sealed class ExecLimiter(FerryServerOptions options)
{
    private readonly SemaphoreSlim _slots = new(options.MaxConcurrentExec, options.MaxConcurrentExec);

    /// <summary>Takes a slot, or null when all are taken.</summary>
    public IDisposable? TryEnter() => _slots.Wait(0) ? new Slot(_slots) : null;

    private sealed class Slot(SemaphoreSlim slots) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                slots.Release();
        }
    }
}
