namespace Ferry.Load;

/// <summary>
/// The output side of term-echo: a stream that completes the awaited echo as soon as the byte it waits for is written.
/// The waiter's continuation runs on the writing thread (no hand-off), so the clock stops where the client library hands
/// the echo over, as a program reading its own terminal would see it.
/// </summary>
internal sealed class EchoSink : Stream
{
    private TaskCompletionSource? _waiter;
    private byte _expected;

    /// <summary>Completes at the next write that contains <paramref name="expected"/>.</summary>
    public Task Expect(byte expected)
    {
        var waiter = new TaskCompletionSource();
        _expected = expected;
        Volatile.Write(ref _waiter, waiter);
        return waiter.Task;
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (Volatile.Read(ref _waiter) is { } waiter && buffer.Contains(_expected) && Interlocked.CompareExchange(ref _waiter, null, waiter) == waiter)
            waiter.TrySetResult();
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
