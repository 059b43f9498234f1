using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using Ferry.Client.Exec;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Client;

// Remote execution (docs/protocol.md §6): exec → exec_started → stdout/stderr frames … → exit, while stdin, stdin_end
// and signal frames go the other way; exec_done hands the connection back.
public sealed partial class FerryClient
{
    /// <summary>
    /// Runs a command on the server and streams its output into <paramref name="stdout"/> and <paramref name="stderr"/> as
    /// it is produced, while <paramref name="stdin"/> (if any) is forwarded in pieces; memory stays bounded whatever the
    /// sizes. Output is converted from the server's declared encoding to <see cref="ExecOptions.OutputEncoding"/> unless
    /// <see cref="ExecOptions.Raw"/>.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Cancelling <paramref name="cancellationToken"/> interrupts the command instead of abandoning it: INT is sent, KILL
    /// after <see cref="ExecOptions.KillAfter"/>, and the exit is still read, so the result (with
    /// <see cref="ExecResult.Interrupted"/>) comes back and the connection stays usable. Only when the server does not
    /// report the exit within <see cref="ExecOptions.AbandonAfter"/> more is the connection closed (the server then kills
    /// the command) and <see cref="OperationCanceledException"/> thrown.
    /// </para>
    /// <para>
    /// When writing the output fails (for example a closed pipe), the command is stopped (TERM, then KILL), its exit is
    /// read and an <see cref="IOException"/> is thrown; the connection stays usable. Reading <paramref name="stdin"/> stops
    /// when the command ends; a stream whose reads cannot be cancelled may still complete one read afterwards, whose data
    /// is dropped.
    /// </para>
    /// Throws <see cref="FerryRemoteException"/> when the server refuses (exec_disabled, permission_denied,
    /// exec_limit_reached, not_found for the working directory, exec_failed), <see cref="FerryException"/> for a malformed
    /// request before anything is sent.
    /// </remarks>
    public async Task<ExecResult> ExecAsync(ExecRequest request, Stream? stdin, Stream stdout, Stream stderr,
        ExecOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        options ??= ExecOptions.Default;
        ArgumentOutOfRangeException.ThrowIfLessThan(options.StdinChunkBytes, 1);
        var (argv, shell, cwd, timeout) = request.Validate();
        EnsureUsable();
        ExecTerminal? terminal = null;
        if (request.Terminal is { } wanted)
        {
            if (!ServerSupports(FeatureNames.ExecTerminal))
                throw new FerryException(FerryErrorCode.FieldInvalid, "This server cannot run commands on a terminal (it does not announce exec_tty); run without one (ferry exec -T).");
            var w = wanted.Window;
            terminal = new ExecTerminal { Term = wanted.Term, Columns = w.Columns, Rows = w.Rows, XPixels = w.XPixels, YPixels = w.YPixels };
        }
        cancellationToken.ThrowIfCancellationRequested();

        var id = NextTransferId();
        var run = new ExecRun(this, id, stdin, stdout, stderr, options);
        try
        {
            return await run.RunAsync(new ExecMessage { Id = id, Argv = argv, Shell = shell, WorkingDirectory = cwd, TimeoutSeconds = timeout, Terminal = terminal },
                cancellationToken).ConfigureAwait(false);
        }
        catch (FerryRemoteException) when (!_broken)
        {
            throw; // refused before anything ran
        }
        catch (Exception) when (run.Finished && !_broken)
        {
            throw; // a local stream failed, but the conversation ended properly
        }
        catch (Exception ex)
        {
            throw Break(ex);
        }
    }

    /// <summary>
    /// Whether the server has hung up on this idle connection: it closed it, or sent something unasked (such as an
    /// idle_timeout error) just before closing. A local check that sends nothing; only meaningful between requests,
    /// where it tells an interactive client to reconnect before sending a request that would be lost.
    /// </summary>
    internal bool HasServerHungUp()
    {
        if (_broken)
            return true;
        try
        {
            // Between requests the server has nothing to say: readable means a farewell frame or the end of the stream.
            return _socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>One command's conversation: the caller's task reads frames; a pump forwards stdin; a stopper escalates signals.</summary>
    private sealed class ExecRun(FerryClient client, long id, Stream? stdin, Stream stdout, Stream stderr, ExecOptions options)
    {
        private readonly FrameWriter _writer = client._writer;
        private readonly FrameReader _reader = client._reader;
        // Frames from the pump, the stopper and the end of the run go out one at a time.
        private readonly SemaphoreSlim _writeLock = new(1, 1);
        // Cancelled only to give up on the connection; every network wait observes it.
        private readonly CancellationTokenSource _abandon = new();
        private readonly CancellationTokenSource _stopInput = new();
        private readonly TaskCompletionSource<bool> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private OutputTranscoder? _stdoutTranscoder;
        private OutputTranscoder? _stderrTranscoder;
        private bool _stdinEndSent; // under _writeLock
        private volatile bool _closed; // exec_done written (or the run is over): nothing more may be written
        private int _stopRequested;
        private volatile bool _interrupted;
        private Task _stopper = Task.CompletedTask;
        private Exception? _outputError;
        private Exception? _inputError;
        private Exception? _connectionError;
        private long _stdoutBytes;
        private long _stderrBytes;

        /// <summary>True once exec_done went out: the connection is ordinary again.</summary>
        public bool Finished { get; private set; }

        public async Task<ExecResult> RunAsync(ExecMessage message, CancellationToken cancellationToken)
        {
            var startedAt = Stopwatch.GetTimestamp();
            _writer.WriteHeader(message, FerryJsonContext.Default.ExecMessage);
            await _writer.FlushAsync(_abandon.Token).ConfigureAwait(false);
            var registration = cancellationToken.Register(() => RequestStop("INT", interrupted: true));
            try
            {
                var header = await client.ReadReplyAsync(CommandNames.ExecStarted, _abandon.Token).ConfigureAwait(false);
                var started = header.Deserialize(FerryJsonContext.Default.ExecStartedMessage);
                SetUpEncoding(started.Encoding);
                _started.TrySetResult(true);

                _ = stdin is null ? SendStdinEndAsync() : Task.Run(PumpInputAsync, CancellationToken.None);
                if (options.WindowChanges is { } windows)
                    _ = Task.Run(() => PumpWindowChangesAsync(windows), CancellationToken.None);
                var exit = await ReadOutputAsync().ConfigureAwait(false);
                _exited.TrySetResult();
                await FinishAsync().ConfigureAwait(false);
                Finished = true;
                await _stopInput.CancelAsync().ConfigureAwait(false);
                await FinishOutputAsync().ConfigureAwait(false);
                await registration.DisposeAsync().ConfigureAwait(false);
                await Volatile.Read(ref _stopper).ConfigureAwait(false);

                if (_outputError is { } output)
                    throw new IOException($"The command's output could not be written ({output.Message}); the command was stopped.", output);
                if (_inputError is { } input)
                    throw new IOException($"The input for the command could not be read ({input.Message}); the command saw the end of its input there.", input);
                return new ExecResult
                {
                    ExitCode = exit.Code,
                    TimedOut = exit.TimedOut,
                    Truncated = exit.Truncated,
                    Killed = exit.Killed,
                    Signal = exit.Signal,
                    CoreDumped = exit.CoreDumped == true,
                    Interrupted = _interrupted,
                    ServerEncoding = started.Encoding,
                    Transcoded = _stdoutTranscoder is not null,
                    StdoutBytes = _stdoutBytes,
                    StderrBytes = _stderrBytes,
                    Elapsed = Stopwatch.GetElapsedTime(startedAt),
                };
            }
            catch (OperationCanceledException) when (_abandon.IsCancellationRequested && !Finished)
            {
                client.Break(new OperationCanceledException());
                try
                {
                    // The server notices at once, and kills the command's process tree.
                    client._socket.Shutdown(SocketShutdown.Both);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                }
                if (_connectionError is { } broken)
                    throw new IOException($"The connection failed while the command ran: {broken.Message}", broken);
                var waited = (options.KillAfter + options.AbandonAfter).TotalSeconds;
                var message2 = $"The command did not report its exit within {waited:0.#} s of being stopped; the connection was closed, so the server kills it.";
                throw cancellationToken.IsCancellationRequested
                    ? new OperationCanceledException(message2, cancellationToken)
                    : new IOException(message2, _outputError);
            }
            finally
            {
                _started.TrySetResult(false);
                _exited.TrySetResult();
                _closed = true;
                await registration.DisposeAsync().ConfigureAwait(false);
                await _stopInput.CancelAsync().ConfigureAwait(false);
                if (!Finished)
                    await _abandon.CancelAsync().ConfigureAwait(false); // releases a pump or stopper still waiting on the connection
            }
        }

        private void SetUpEncoding(string? declared)
        {
            if (options.Raw || OutputTranscoder.FindEncoding(declared) is not { } server)
                return;
            var local = options.OutputEncoding ?? ExecOptions.DefaultOutputEncoding;
            if (OutputTranscoder.SameEncoding(server, local))
                return;
            _stdoutTranscoder = new OutputTranscoder(server, local);
            _stderrTranscoder = new OutputTranscoder(server, local);
        }

        /// <summary>Reads output frames into the caller's streams until exit.</summary>
        private async Task<ExecExitMessage> ReadOutputAsync()
        {
            while (true)
            {
                var frame = await _reader.ReadFrameAsync(_abandon.Token).ConfigureAwait(false)
                    ?? throw client.Break(new FerryProtocolException(FerryErrorCode.TruncatedFrame, "The server closed the connection while the command ran.", isFatal: true));
                switch (frame.Command)
                {
                    case CommandNames.Stdout:
                        _stdoutBytes += frame.BodyLength;
                        await CopyBodyAsync(stdout, _stdoutTranscoder).ConfigureAwait(false);
                        break;
                    case CommandNames.Stderr:
                        _stderrBytes += frame.BodyLength;
                        await CopyBodyAsync(stderr, _stderrTranscoder).ConfigureAwait(false);
                        break;
                    case CommandNames.Exit:
                        return frame.Deserialize(FerryJsonContext.Default.ExecExitMessage);
                    case CommandNames.Error:
                        // Whatever the server thinks of the command now, this side cannot know where the conversation stands.
                        throw client.Break(frame.Deserialize(FerryJsonContext.Default.ErrorMessage).ToException());
                    default:
                        throw client.Break(new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                            $"The server sent '{frame.Command}' while a command ran; only stdout, stderr and exit may come.", isFatal: true));
                }
            }
        }

        /// <summary>Streams the current body to <paramref name="destination"/> piece by piece, straight from the receive buffer.</summary>
        private async Task CopyBodyAsync(Stream destination, OutputTranscoder? transcoder)
        {
            while (_reader.BodyRemaining > 0)
            {
                var chunk = await _reader.ReadBodyChunkAsync(_abandon.Token).ConfigureAwait(false);
                if (_outputError is null)
                {
                    try
                    {
                        foreach (var segment in chunk)
                        {
                            if (transcoder is null)
                                await destination.WriteAsync(segment, _abandon.Token).ConfigureAwait(false);
                            else
                                await transcoder.WriteAsync(segment, destination, _abandon.Token).ConfigureAwait(false);
                        }
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !_abandon.IsCancellationRequested)
                    {
                        OutputFailed(ex);
                    }
                }
                _reader.AdvanceBody(chunk, chunk.Length);
            }
            if (_outputError is null)
            {
                try
                {
                    await destination.FlushAsync(_abandon.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !_abandon.IsCancellationRequested)
                {
                    OutputFailed(ex);
                }
            }
        }

        private async Task FinishOutputAsync()
        {
            foreach (var (stream, transcoder) in new[] { (stdout, _stdoutTranscoder), (stderr, _stderrTranscoder) })
            {
                if (_outputError is not null)
                    return;
                try
                {
                    if (transcoder is not null)
                        await transcoder.FinishAsync(stream, CancellationToken.None).ConfigureAwait(false);
                    await stream.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    _outputError = ex;
                }
            }
        }

        /// <summary>The output cannot be delivered: drop the rest and stop the command, as a closed pipe would.</summary>
        private void OutputFailed(Exception ex)
        {
            _outputError ??= ex;
            RequestStop("TERM", interrupted: false);
        }

        /// <summary>Forwards the caller's input in frames of at most <see cref="ExecOptions.StdinChunkBytes"/>, then stdin_end.</summary>
        private async Task PumpInputAsync()
        {
            var size = options.StdinChunkBytes;
            var buffer = ArrayPool<byte>.Shared.Rent(size);
            try
            {
                while (!_stopInput.IsCancellationRequested)
                {
                    int n;
                    try
                    {
                        n = await stdin!.ReadAsync(buffer.AsMemory(0, size), _stopInput.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (_stopInput.IsCancellationRequested)
                    {
                        break;
                    }
                    catch (Exception ex)
                    {
                        _inputError ??= ex;
                        break;
                    }
                    if (n == 0 || _stopInput.IsCancellationRequested)
                        break;
                    var sent = await SendAsync(w =>
                    {
                        w.WriteHeader(new ExecInputMessage { Id = id, BodySize = n }, FerryJsonContext.Default.ExecInputMessage, n);
                        w.WriteBody(buffer.AsSpan(0, n));
                        return true;
                    }).ConfigureAwait(false);
                    if (!sent)
                        return;
                }
                await SendStdinEndAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_abandon.IsCancellationRequested)
            {
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        /// <summary>Sends each new window size as window_change until the command ends; when several wait, only the latest.</summary>
        private async Task PumpWindowChangesAsync(System.Threading.Channels.ChannelReader<TerminalWindow> windows)
        {
            try
            {
                while (await windows.WaitToReadAsync(_stopInput.Token).ConfigureAwait(false))
                {
                    var window = default(TerminalWindow);
                    var any = false;
                    while (windows.TryRead(out var next))
                    {
                        window = next;
                        any = true;
                    }
                    // A size the wire cannot carry is not sent; the command keeps the last one.
                    if (!any || !ExecRequest.FitsTheWire(window))
                        continue;
                    var sent = await SendAsync(w =>
                    {
                        w.WriteHeader(new WindowChangeMessage { Id = id, Columns = window.Columns, Rows = window.Rows, XPixels = window.XPixels, YPixels = window.YPixels },
                            FerryJsonContext.Default.WindowChangeMessage);
                        return true;
                    }).ConfigureAwait(false);
                    if (!sent)
                        return;
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        private async Task SendStdinEndAsync()
        {
            try
            {
                await SendAsync(w =>
                {
                    if (_stdinEndSent)
                        return false;
                    w.WriteHeader(new ExecInputMessage { Id = id, IsEnd = true }, FerryJsonContext.Default.ExecInputMessage);
                    _stdinEndSent = true;
                    return true;
                }).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_abandon.IsCancellationRequested)
            {
            }
        }

        /// <summary>
        /// Writes frames under the lock unless the conversation is over; false if it was. A failing connection makes the
        /// whole run give up (the reader would otherwise wait for an exit that cannot come).
        /// </summary>
        private async Task<bool> SendAsync(Func<FrameWriter, bool> write)
        {
            await _writeLock.WaitAsync(_abandon.Token).ConfigureAwait(false);
            try
            {
                if (_closed)
                    return false;
                if (write(_writer))
                    await _writer.FlushAsync(_abandon.Token).ConfigureAwait(false);
                return true;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _connectionError ??= ex;
                await _abandon.CancelAsync().ConfigureAwait(false);
                throw new OperationCanceledException("The connection failed.", ex, _abandon.Token);
            }
            finally
            {
                _writeLock.Release();
            }
        }

        /// <summary>After exit: stdin_end if it has not gone yet, then exec_done.</summary>
        private async Task FinishAsync()
        {
            await _writeLock.WaitAsync(_abandon.Token).ConfigureAwait(false);
            try
            {
                _closed = true;
                if (!_stdinEndSent)
                {
                    _writer.WriteHeader(new ExecInputMessage { Id = id, IsEnd = true }, FerryJsonContext.Default.ExecInputMessage);
                    _stdinEndSent = true;
                }
                _writer.WriteHeader(new ExecDoneMessage { Id = id }, FerryJsonContext.Default.ExecDoneMessage);
                await _writer.FlushAsync(_abandon.Token).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }
        }

        /// <summary>Starts stopping the command (once): <paramref name="first"/>, then KILL, then giving up on the connection.</summary>
        private void RequestStop(string first, bool interrupted)
        {
            if (interrupted)
                _interrupted = true;
            if (Interlocked.Exchange(ref _stopRequested, 1) != 0)
                return;
            try
            {
                _stopInput.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
            Volatile.Write(ref _stopper, Task.Run(() => StopAsync(first), CancellationToken.None));
        }

        private async Task StopAsync(string first)
        {
            try
            {
                var clock = Stopwatch.StartNew();
                var killAt = options.KillAfter;
                var abandonAt = options.KillAfter + options.AbandonAfter;
                bool started;
                try
                {
                    // A server that never answers the exec is given up on like one that never reports the exit.
                    started = await _started.Task.WaitAsync(abandonAt).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    await _abandon.CancelAsync().ConfigureAwait(false);
                    return;
                }
                if (!started)
                    return;
                await SignalAsync(first, killAt).ConfigureAwait(false);
                if (await ExitedWithinAsync(killAt - clock.Elapsed).ConfigureAwait(false))
                    return;
                await SignalAsync("KILL", abandonAt - clock.Elapsed).ConfigureAwait(false);
                if (await ExitedWithinAsync(abandonAt - clock.Elapsed).ConfigureAwait(false))
                    return;
                await _abandon.CancelAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_abandon.IsCancellationRequested)
            {
            }
        }

        /// <summary>Sends a signal frame unless the command already exited; gives up if the writer stays busy past <paramref name="wait"/>.</summary>
        private async Task SignalAsync(string signal, TimeSpan wait)
        {
            if (_exited.Task.IsCompleted || !await _writeLock.WaitAsync(Positive(wait), _abandon.Token).ConfigureAwait(false))
                return;
            try
            {
                if (_closed || _exited.Task.IsCompleted)
                    return;
                _writer.WriteHeader(new ExecSignalMessage { Id = id, Signal = signal }, FerryJsonContext.Default.ExecSignalMessage);
                await _writer.FlushAsync(_abandon.Token).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }
        }

        private async Task<bool> ExitedWithinAsync(TimeSpan wait)
        {
            try
            {
                await _exited.Task.WaitAsync(Positive(wait)).ConfigureAwait(false);
                return true;
            }
            catch (TimeoutException)
            {
                return false;
            }
        }

        private static TimeSpan Positive(TimeSpan t) => t > TimeSpan.Zero ? t : TimeSpan.Zero;
    }
}
