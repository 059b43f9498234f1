namespace Ferry.Server.Diagnostics;

/// <summary>
/// Counts the bytes that cross a connection's socket stream into <see cref="FerryMetrics"/>. It sits under TLS, so it
/// counts what the network carries. Reads and writes pass straight through (zero-byte reads too, which the pipe uses to
/// wait for data without holding a buffer); a completed read costs one counter update and no extra allocation.
/// </summary>
internal sealed class MeteredStream(Stream inner, FerryMetrics metrics) : Stream
{
    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => false;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = inner.ReadAsync(buffer, cancellationToken);
        if (read.IsCompletedSuccessfully)
        {
            // A ValueTask may be consumed exactly once: reading its Result hands a socket's pooled operation back for
            // reuse, so returning the same ValueTask would make the caller read it a second time (an
            // InvalidOperationException, or the result of a later read). Return the value instead.
            var n = read.Result;
            metrics.Received(n);
            return new ValueTask<int>(n);
        }
        return AwaitRead(read);
    }

    private async ValueTask<int> AwaitRead(ValueTask<int> read)
    {
        var n = await read.ConfigureAwait(false);
        metrics.Received(n);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer);
        metrics.Received(n);
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // Counted when handed to the socket: a write that then fails has its connection torn down anyway.
        metrics.Sent(buffer.Length);
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        metrics.Sent(buffer.Length);
        inner.Write(buffer);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            inner.Dispose();
        base.Dispose(disposing);
    }
}
