using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Ferry.Protocol.Errors;

namespace Ferry.Protocol.Framing;

/// <summary>
/// Reads frames from a <see cref="PipeReader"/>: a header at a time, then the body streamed in pieces so that a body
/// of any size passes through bounded buffers. Not thread-safe: one reader per connection, one caller at a time.
/// </summary>
/// <remarks>
/// Each header is copied into a buffer owned by the reader (at most <see cref="FrameLimits.MaxHeaderBytes"/>), so the
/// pipe can be advanced at once and <see cref="FrameHeader.Json"/> stays valid until the next <see cref="ReadFrameAsync"/>.
/// A body the caller leaves unread is skipped by the next <see cref="ReadFrameAsync"/>, keeping the stream in sync.
/// </remarks>
public sealed class FrameReader : IDisposable
{
    private readonly PipeReader _input;
    private readonly FrameLimits _limits;
    private FrameReadTimeouts _timeouts;
    private readonly TimeProvider _time;
    private byte[] _headerBuffer;
    private long _bodyRemaining;
    private CancellationTokenSource? _deadline;
    private FrameMac? _mac;
    private bool _trailerPending;

    /// <summary>
    /// A reader over <paramref name="input"/>, which it does not complete or dispose. <paramref name="limits"/> defaults
    /// to <see cref="FrameLimits.Default"/>, <paramref name="timeouts"/> to none, <paramref name="time"/> to the system clock.
    /// </summary>
    public FrameReader(PipeReader input, FrameLimits? limits = null, FrameReadTimeouts? timeouts = null, TimeProvider? time = null)
    {
        _input = input;
        _limits = limits ?? FrameLimits.Default;
        _timeouts = timeouts ?? FrameReadTimeouts.None;
        _time = time ?? TimeProvider.System;
        _headerBuffer = ArrayPool<byte>.Shared.Rent(256);
    }

    /// <summary>Verifies every following frame's MAC trailer with <paramref name="key"/> (docs/security.md §4).</summary>
    internal void EnableMac(byte[] key)
    {
        if (_bodyRemaining != 0)
            throw new InvalidOperationException("Enable the MAC between frames.");
        _mac = new FrameMac(key);
    }

    /// <summary>
    /// The deadlines in force; a command that legitimately waits long (a running remote command) lifts the idle
    /// deadline for its duration and restores it after.
    /// </summary>
    public FrameReadTimeouts Timeouts
    {
        get => _timeouts;
        set => _timeouts = value;
    }

    /// <summary>Bytes of the current frame's body not yet read.</summary>
    public long BodyRemaining => _bodyRemaining;

    /// <summary>Breadcrumb for error reports: what the reader was doing last.</summary>
    public string Status { get; private set; } = "idle";

    /// <summary>
    /// Reads the next frame header, first skipping any unread body of the previous frame. Returns <c>null</c> when the
    /// peer closed the stream cleanly between frames. Throws <see cref="FerryProtocolException"/> for bad input (see
    /// <see cref="FrameDecoder"/>), for a stream that ends inside a frame (<see cref="FerryErrorCode.TruncatedFrame"/>)
    /// and for missed deadlines.
    /// </summary>
    // Pooled state machines: a frame that waits for the network would otherwise allocate one box per call, per frame.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FrameHeader?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        if (_bodyRemaining > 0)
            await SkipBodyAsync(cancellationToken).ConfigureAwait(false);
        if (_trailerPending)
            await VerifyTrailerAsync(cancellationToken).ConfigureAwait(false);

        Status = "awaiting frame";
        long headerStartedAt = 0;
        while (true)
        {
            var timeout = _timeouts.Idle;
            var onTimeout = FerryErrorCode.IdleTimeout;
            if (headerStartedAt != 0)
            {
                // The header deadline runs from the frame's first byte, however many reads it takes.
                onTimeout = FerryErrorCode.HeaderTimeout;
                timeout = _timeouts.Header == Timeout.InfiniteTimeSpan
                    ? Timeout.InfiniteTimeSpan
                    : _timeouts.Header - _time.GetElapsedTime(headerStartedAt);
                if (timeout != Timeout.InfiniteTimeSpan && timeout <= TimeSpan.Zero)
                    throw TimeoutError(FerryErrorCode.HeaderTimeout, _timeouts.Header);
            }

            var result = await ReadWithDeadlineAsync(timeout, onTimeout, cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            bool complete;
            ReadOnlySequence<byte> headerJson;
            try
            {
                complete = FrameDecoder.TryReadHeader(ref buffer, _limits, out headerJson);
            }
            catch
            {
                _input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                Status = "bad prefix";
                throw;
            }

            if (complete)
            {
                var length = (int)headerJson.Length;
                if (_headerBuffer.Length < length)
                {
                    ArrayPool<byte>.Shared.Return(_headerBuffer);
                    _headerBuffer = ArrayPool<byte>.Shared.Rent(length);
                }
                headerJson.CopyTo(_headerBuffer);
                _input.AdvanceTo(buffer.Start);
                Status = "parsing header";
                if (_mac is not null)
                {
                    // Every frame, even one whose header turns out unusable, is followed by its trailer.
                    _mac.Begin(length);
                    _mac.Append(_headerBuffer.AsSpan(0, length));
                    _trailerPending = true;
                }
                FrameHeader header;
                try
                {
                    header = FrameDecoder.ParseHeader(_headerBuffer.AsMemory(0, length), _limits);
                }
                catch (FerryProtocolException ex) when (!ex.IsFatal && ex.DeclaredBodyLength > 0)
                {
                    // The header was unusable but said how long its body is: skip it before the next frame.
                    _bodyRemaining = ex.DeclaredBodyLength;
                    Status = "skipping body";
                    throw;
                }
                _bodyRemaining = header.BodyLength;
                Status = header.BodyLength > 0 ? "in body" : "idle";
                // A frame without a body is checked before anyone acts on it.
                if (_mac is not null && header.BodyLength == 0)
                    await VerifyTrailerAsync(cancellationToken).ConfigureAwait(false);
                return header;
            }

            // Nothing consumed, everything seen examined: the next read waits for more bytes.
            _input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCanceled)
                throw new OperationCanceledException("The frame read was cancelled.");
            if (result.IsCompleted)
            {
                if (buffer.IsEmpty)
                {
                    Status = "closed";
                    return null;
                }
                Status = "truncated";
                throw new FerryProtocolException(FerryErrorCode.TruncatedFrame,
                    $"The connection closed {buffer.Length} byte(s) into a frame header.", isFatal: true);
            }
            if (headerStartedAt == 0 && !buffer.IsEmpty)
            {
                headerStartedAt = _time.GetTimestamp();
                Status = "in header";
            }
        }
    }

    /// <summary>
    /// Copies up to <paramref name="destination"/>.Length bytes of the current body. Returns 0 once the body is done.
    /// Throws <see cref="FerryErrorCode.TruncatedFrame"/> if the stream ends before the declared length.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReadBodyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (_bodyRemaining == 0 || destination.IsEmpty)
            return 0;

        var result = await ReadBodyChunkAsync(cancellationToken).ConfigureAwait(false);
        var take = (int)Math.Min(Math.Min(result.Length, destination.Length), _bodyRemaining);
        result.Slice(0, take).CopyTo(destination.Span);
        AdvanceBody(result, take);
        return take;
    }

    /// <summary>
    /// Like <see cref="ReadBodyAsync"/>, but once nothing of the body is left buffered in the pipe, reads straight from
    /// <paramref name="source"/> into <paramref name="destination"/>: a large body then crosses user space once (the
    /// socket's copy into the caller's buffer) instead of twice (into the pipe's segments, then out of them), in reads as
    /// large as the destination instead of the pipe's segment size. Never reads past the body. Returns 0 once the body
    /// is done.
    /// </summary>
    /// <param name="source">
    /// The stream the pipe reads from. The pipe must read from it only inside its own read calls, as a
    /// <see cref="PipeReader.Create(Stream, StreamPipeReaderOptions?)"/> reader does, so nothing is taken from the stream
    /// behind this reader's back.
    /// </param>
    /// <param name="destination">Where the body's next bytes go.</param>
    /// <param name="cancellationToken">Cancels the read; the connection is then out of step.</param>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReadBodyDirectAsync(Stream source, Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (_bodyRemaining == 0 || destination.IsEmpty)
            return 0;
        if (_input.TryRead(out var buffered))
        {
            _input.AdvanceTo(buffered.Buffer.Start);
            // Bytes already in the pipe (or its end) come first, through the pipe.
            if (!buffered.Buffer.IsEmpty || buffered.IsCompleted || buffered.IsCanceled)
                return await ReadBodyAsync(destination, cancellationToken).ConfigureAwait(false);
        }
        if (BeforeWaiting is { } beforeWaiting)
            await beforeWaiting(cancellationToken).ConfigureAwait(false);

        var target = destination[..(int)Math.Min(destination.Length, _bodyRemaining)];
        var timeout = _timeouts.Idle;
        int read;
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            read = await source.ReadAsync(target, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var deadline = ArmDeadline(timeout);
            using var link = cancellationToken.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), deadline);
            try
            {
                read = await source.ReadAsync(target, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw TimeoutError(FerryErrorCode.IdleTimeout, timeout);
            }
            finally
            {
                deadline.CancelAfter(Timeout.InfiniteTimeSpan);
            }
        }
        if (read == 0)
        {
            Status = "truncated";
            throw new FerryProtocolException(FerryErrorCode.TruncatedFrame,
                $"The connection closed with {_bodyRemaining} byte(s) of the body still to come.", isFatal: true);
        }
        _mac?.Append(target.Span[..read]);
        _bodyRemaining -= read;
        if (_bodyRemaining == 0)
            Status = "idle";
        return read;
    }

    /// <summary>
    /// Returns the next available piece of the body without copying. The caller must call
    /// <see cref="AdvanceBody"/> with how much of it was used before any other call on this reader.
    /// </summary>
    public ValueTask<ReadOnlySequence<byte>> ReadBodyChunkAsync(CancellationToken cancellationToken) =>
        ReadBodyChunkAsync(minimumBytes: 1, cancellationToken);

    /// <summary>
    /// Like <see cref="ReadBodyChunkAsync(CancellationToken)"/>, but waits until at least <paramref name="minimumBytes"/>
    /// (or the rest of the body) are buffered, so that a consumer writing to disk issues few large writes even when the
    /// transport delivers small pieces (TLS records are 16 KiB).
    /// </summary>
    public async ValueTask<ReadOnlySequence<byte>> ReadBodyChunkAsync(long minimumBytes, CancellationToken cancellationToken)
    {
        if (_bodyRemaining == 0)
            return default;
        var wanted = Math.Min(minimumBytes, _bodyRemaining);
        while (true)
        {
            var result = await ReadWithDeadlineAsync(_timeouts.Idle, FerryErrorCode.IdleTimeout, cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= wanted || ((result.IsCompleted || result.IsCanceled) && !buffer.IsEmpty))
                return buffer.Length > _bodyRemaining ? buffer.Slice(0, _bodyRemaining) : buffer;
            if (result.IsCompleted || result.IsCanceled)
            {
                _input.AdvanceTo(buffer.Start);
                Status = "truncated";
                throw new FerryProtocolException(FerryErrorCode.TruncatedFrame,
                    $"The connection closed with {_bodyRemaining} byte(s) of the body still to come.", isFatal: true);
            }
            // Consume nothing, examine everything: the next read returns once more bytes arrived.
            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Marks <paramref name="consumed"/> bytes of a piece from <see cref="ReadBodyChunkAsync(CancellationToken)"/> as used.</summary>
    public void AdvanceBody(ReadOnlySequence<byte> chunk, long consumed)
    {
        if ((ulong)consumed > (ulong)chunk.Length)
            throw new ArgumentOutOfRangeException(nameof(consumed));
        if (_mac is not null)
        {
            foreach (var segment in chunk.Slice(0, consumed))
                _mac.Append(segment.Span);
        }
        _input.AdvanceTo(chunk.GetPosition(consumed));
        _bodyRemaining -= consumed;
        if (_bodyRemaining == 0)
            Status = "idle";
    }

    /// <summary>Reads and checks the MAC trailer of the frame just read (body included).</summary>
    private async ValueTask VerifyTrailerAsync(CancellationToken cancellationToken)
    {
        Status = "reading frame mac";
        while (true)
        {
            var result = await ReadWithDeadlineAsync(_timeouts.Idle, FerryErrorCode.IdleTimeout, cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= FrameMac.TrailerBytes)
            {
                Span<byte> expected = stackalloc byte[FrameMac.TrailerBytes];
                Span<byte> received = stackalloc byte[FrameMac.TrailerBytes];
                _mac!.Finish(expected);
                buffer.Slice(0, FrameMac.TrailerBytes).CopyTo(received);
                _input.AdvanceTo(buffer.GetPosition(FrameMac.TrailerBytes));
                _trailerPending = false;
                if (!System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(expected, received))
                {
                    Status = "bad frame mac";
                    throw new FerryProtocolException(FerryErrorCode.FrameMacInvalid,
                        "A frame's MAC did not verify: the connection was altered in transit.", isFatal: true);
                }
                Status = "idle";
                return;
            }
            _input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
                throw new FerryProtocolException(FerryErrorCode.TruncatedFrame, "The connection closed inside a frame's MAC.", isFatal: true);
        }
    }

    /// <summary>Discards the rest of the current body.</summary>
    public async ValueTask SkipBodyAsync(CancellationToken cancellationToken)
    {
        Status = "skipping body";
        while (_bodyRemaining > 0)
        {
            var chunk = await ReadBodyChunkAsync(cancellationToken).ConfigureAwait(false);
            AdvanceBody(chunk, chunk.Length);
        }
    }

    /// <summary>A read-only stream over the rest of the current body; it ends where the body ends.</summary>
    public Stream OpenBodyStream() => new BodyStream(this);

    /// <summary>
    /// Called when a read is about to wait for the peer because nothing new is buffered. A server that holds back
    /// replies while more requests are already buffered sends them here, so a peer that waits for a reply before it
    /// sends more is never kept waiting.
    /// </summary>
    public Func<CancellationToken, ValueTask>? BeforeWaiting { get; set; }

    /// <summary>The reader's one deadline source, reset (or made anew once it has fired) and set to fire after <paramref name="timeout"/>.</summary>
    private CancellationTokenSource ArmDeadline(TimeSpan timeout)
    {
        if (_deadline is null || !_deadline.TryReset())
        {
            _deadline?.Dispose();
            _deadline = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
        }
        _deadline.CancelAfter(timeout);
        return _deadline;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> ReadWithDeadlineAsync(TimeSpan timeout, FerryErrorCode onTimeout, CancellationToken cancellationToken)
    {
        // Fast path: data already buffered needs no timer.
        if (_input.TryRead(out var ready))
            return ready;
        if (BeforeWaiting is { } beforeWaiting)
            await beforeWaiting(cancellationToken).ConfigureAwait(false);
        if (timeout == Timeout.InfiniteTimeSpan)
            return await _input.ReadAsync(cancellationToken).ConfigureAwait(false);

        var deadline = ArmDeadline(timeout);
        // The caller's token cancels the deadline source instead of a new linked source per wait.
        using var link = cancellationToken.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), deadline);
        try
        {
            return await _input.ReadAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw TimeoutError(onTimeout, onTimeout == FerryErrorCode.HeaderTimeout ? _timeouts.Header : timeout);
        }
        finally
        {
            deadline.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }

    private FerryProtocolException TimeoutError(FerryErrorCode code, TimeSpan limit)
    {
        Status = code == FerryErrorCode.HeaderTimeout ? "header timeout" : "idle timeout";
        return new FerryProtocolException(code,
            code == FerryErrorCode.HeaderTimeout
                ? $"The frame header did not arrive completely within {limit.TotalSeconds:0.###} s."
                : $"No data arrived for {limit.TotalSeconds:0.###} s.",
            isFatal: true);
    }

    /// <summary>Returns the reader's pooled buffers; the pipe itself is left to its owner.</summary>
    public void Dispose()
    {
        _deadline?.Dispose();
        _mac?.Dispose();
        var buffer = Interlocked.Exchange(ref _headerBuffer, []);
        if (buffer.Length > 0)
            ArrayPool<byte>.Shared.Return(buffer);
    }

    private sealed class BodyStream(FrameReader owner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            owner.ReadBodyAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
