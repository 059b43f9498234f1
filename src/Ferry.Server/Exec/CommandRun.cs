using System.Buffers;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text;

namespace Ferry.Server.Exec;

/// <summary>
/// One started command from its start to its outcome, whatever the transport (docs/protocol.md §6.2): stdout and stderr
/// pumped into the sink under one cap, the client's input alongside, the time limit, the kill of the whole process
/// group, the drain of what is left in the pipes, the cut marker and the exit.
/// </summary>
internal sealed class CommandRun(ProcessGroup group, CommandRequest request, ICommandOutputSink sink)
{
    /// <summary>
    /// After the command ends (and its group is killed), how long output still in the pipes is waited for: a descendant
    /// that escaped the group (possible only unconfined) may hold them open, and must not hold the result back.
    /// </summary>
    public static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(2);

    private const int ChunkBytes = 64 * 1024;

    /// <summary>The longest one timer waits (about 49 days); longer limits are waited for in parts.</summary>
    private static readonly TimeSpan s_longestTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    private readonly SemaphoreSlim _sinkLock = new(1, 1);
    private readonly OutputBudget _budget = new(request.MaxOutputBytes);
    private readonly TaskCompletionSource<Exception> _sinkFailed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _caughtUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _closed; // under _sinkLock: the outcome went out, so late output has nowhere to go
    private long _read; // bytes read from both pipes
    private long _drainTarget = long.MaxValue; // once the grace is over: how far the pumps must still read

    /// <summary>Runs to the outcome; throws when the client went away or <paramref name="cancellationToken"/> fired (the command is then killed).</summary>
    public async Task<CommandOutcome> RunAsync(CancellationToken cancellationToken)
    {
        var command = new RunningCommand(group);
        await sink.StartedAsync(cancellationToken).ConfigureAwait(false);

        using var reading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var exited = group.WaitForExitAsync(CancellationToken.None);
        var stdout = PumpAsync(group.StandardOutput, CommandOutputStream.Stdout, reading.Token);
        var stderr = PumpAsync(group.StandardError, CommandOutputStream.Stderr, reading.Token);
        Task? input = null;
        if (request.Input is { } source)
            input = source.RunAsync(command, cancellationToken);
        else
            CloseQuietly(group.StandardInput);

        var (timedOut, failure) = await WaitAsync(exited, input, cancellationToken).ConfigureAwait(false);
        if (failure is not null)
        {
            // The client went away, or the server stops: nobody is left to tell, so nothing is drained either.
            group.KillTree();
            await reading.CancelAsync().ConfigureAwait(false);
            await CloseAsync().ConfigureAwait(false);
            if (input is not null)
            {
                if (input.IsCompleted || cancellationToken.IsCancellationRequested)
                    await input.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                else
                    _ = input.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }
            ExceptionDispatchInfo.Throw(failure);
        }
        if (timedOut)
        {
            group.KillTree();
            await exited.ConfigureAwait(false); // SIGKILL: the leader goes at once
        }

        // Whatever the command left running in its group dies with it, and stops holding the pipes open.
        group.KillTree();
        await DrainAsync(Task.WhenAll(stdout, stderr), reading, cancellationToken).ConfigureAwait(false);

        CommandOutcome outcome;
        await _sinkLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _closed = true;
            var truncated = _budget.Truncated;
            if (truncated)
            {
                // Written past the cap on purpose: the client must learn where its output stops.
                await sink.WriteAsync(CommandOutputStream.Stderr, Encoding.UTF8.GetBytes($"\n[ferry: output cut after {_budget.Limit} bytes]\n"),
                    cancellationToken).ConfigureAwait(false);
            }
            outcome = CommandOutcome.Of(group.Exit, timedOut, truncated, command.Signalled);
            await sink.CompletedAsync(outcome, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sinkLock.Release();
        }

        // The client may still have something to say about the command (TCP: exec_done after reading exit).
        if (input is not null)
            await input.ConfigureAwait(false);
        return outcome;
    }

    /// <summary>
    /// Waits for the first of: the exit, the time limit, the client going away (its input fails, or output cannot reach
    /// it), cancellation. Input that ends normally before the exit only means the client has nothing more to send.
    /// </summary>
    private async Task<(bool TimedOut, Exception? Failure)> WaitAsync(Task exited, Task? input, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var deadline = WaitForTimeLimitAsync(request.TimeLimit, stop.Token);
        var watched = input;
        try
        {
            while (true)
            {
                Task[] waits = watched is null ? [exited, deadline, _sinkFailed.Task] : [exited, deadline, _sinkFailed.Task, watched];
                var first = await Task.WhenAny(waits).ConfigureAwait(false);
                if (exited.IsCompleted)
                    return (false, null);
                if (first == deadline)
                    return cancellationToken.IsCancellationRequested ? (false, new OperationCanceledException(cancellationToken)) : (true, null);
                if (first == _sinkFailed.Task)
                    return (false, _sinkFailed.Task.Result);
                if (!watched!.IsCompletedSuccessfully)
                    return (false, watched.Exception?.InnerException ?? new OperationCanceledException("The client went away while its command ran.", cancellationToken));
                watched = null;
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits for both pumps to reach the end of their pipes. After <see cref="DrainGrace"/> only the output that is in
    /// the pipes by then is still read (a busy machine may read it late, and it must not be lost); what a descendant
    /// holding them open might write later is abandoned.
    /// </summary>
    private async Task DrainAsync(Task drained, CancellationTokenSource reading, CancellationToken cancellationToken)
    {
        using (var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            var expired = Task.Delay(DrainGrace, grace.Token);
            var first = await Task.WhenAny(drained, expired).ConfigureAwait(false);
            await grace.CancelAsync().ConfigureAwait(false);
            await expired.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (first == drained)
                return;
        }
        var target = Interlocked.Read(ref _read) + group.UnreadOutputBytes();
        Interlocked.Exchange(ref _drainTarget, target);
        if (Interlocked.Read(ref _read) < target && !cancellationToken.IsCancellationRequested)
        {
            // A pump that stopped (its sink failed) would never catch up: that ends the wait too.
            Task caughtUp = Task.WhenAny(drained, _caughtUp.Task, _sinkFailed.Task);
            await caughtUp.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        await reading.CancelAsync().ConfigureAwait(false);
    }

    /// <summary>Completes when <paramref name="limit"/> has passed or <paramref name="cancellationToken"/> fires; never throws.</summary>
    private static async Task WaitForTimeLimitAsync(TimeSpan limit, CancellationToken cancellationToken)
    {
        try
        {
            if (limit == Timeout.InfiniteTimeSpan)
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
                return;
            }
            var started = Stopwatch.GetTimestamp();
            for (var left = limit; left > TimeSpan.Zero; left = limit - Stopwatch.GetElapsedTime(started))
                await Task.Delay(left < s_longestTimer ? left : s_longestTimer, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task PumpAsync(Stream output, CommandOutputStream stream, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            int n;
            while ((n = await output.ReadAsync(buffer.AsMemory(0, ChunkBytes), cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (Interlocked.Add(ref _read, n) >= Interlocked.Read(ref _drainTarget))
                    _caughtUp.TrySetResult();
                // Past the cap output is read and dropped: the command keeps running, memory stays flat.
                var passed = _budget.Take(n);
                if (passed > 0 && !await WriteAsync(stream, buffer.AsMemory(0, passed), cancellationToken).ConfigureAwait(false))
                    return;
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The pipe closed under a kill, or the output is abandoned.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Hands output to the sink, one piece at a time; false when nothing more can go (closed, or the sink failed).</summary>
    private async Task<bool> WriteAsync(CommandOutputStream stream, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await _sinkLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_closed)
                return false;
            await sink.WriteAsync(stream, data, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The output cannot reach the client (a broken connection, one that stopped reading): like a client that went away.
            _sinkFailed.TrySetResult(ex);
            return false;
        }
        finally
        {
            _sinkLock.Release();
        }
    }

    private async Task CloseAsync()
    {
        await _sinkLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        _closed = true;
        _sinkLock.Release();
    }

    private static void CloseQuietly(Stream stream)
    {
        try { stream.Dispose(); } catch (IOException) { }
    }
}
