namespace Ferry.Server.Storage.Nats;

/// <summary>
/// Where one part's bytes go as the object store reads it: on to the file's stream, counted, so that when the read is
/// made again (the stream's leader changed halfway) the bytes already passed on are dropped instead of sent twice.
/// </summary>
internal sealed class NatsPartSink(Stream destination, long alreadyDelivered) : Stream
{
    private long _toSkip = alreadyDelivered;

    /// <summary>Bytes of the part passed on so far, counting those of earlier attempts.</summary>
    public long Delivered { get; private set; } = alreadyDelivered;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var skipped = (int)Math.Min(_toSkip, buffer.Length);
        _toSkip -= skipped;
        buffer = buffer[skipped..];
        if (buffer.IsEmpty)
            return;
        await destination.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        Delivered += buffer.Length;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => destination.FlushAsync(cancellationToken);
    public override void Flush() => destination.Flush();

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
