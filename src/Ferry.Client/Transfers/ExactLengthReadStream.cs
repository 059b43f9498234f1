namespace Ferry.Client.Transfers;

/// <summary>
/// Reads <paramref name="inner"/> (a decompressing stream) and insists it yields exactly <paramref name="length"/> bytes:
/// one byte more, or an end before <paramref name="length"/>, throws <paramref name="mismatch"/>'s exception. The
/// reader of a compressed scan page (docs/protocol.md §5.9.1) sees the JSON through it, so a body that lies about its
/// rawsize is caught while it streams, and nothing is ever held beyond what the JSON reader buffers.
/// </summary>
internal sealed class ExactLengthReadStream(Stream inner, long length, Func<long, Exception> mismatch) : Stream
{
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }
    public override void Flush() { }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.Length == 0)
            return 0;
        // Ask for one byte past the promised end, so that a longer stream is seen, not cut.
        var room = (int)Math.Min(buffer.Length, length - _position + 1);
        var read = await inner.ReadAsync(buffer[..room], cancellationToken).ConfigureAwait(false);
        _position += read;
        if (_position > length)
            throw mismatch(-1);
        if (read == 0 && _position != length)
            throw mismatch(_position);
        return read;
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
