namespace Ferry.Sync.Tests;

/// <summary>
/// A read-only stream over bytes in memory that answers each read with at most the next of the given sizes (cycling),
/// like a socket or pipe that delivers data in arbitrary pieces. Counts the reads.
/// </summary>
internal sealed class ChoppedStream(byte[] data, IReadOnlyList<int> pieceSizes) : Stream
{
    private int _position;
    private int _nextPiece;

    public int ReadCount { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ReadCount++;
        var piece = pieceSizes.Count == 0 ? buffer.Length : Math.Max(1, pieceSizes[_nextPiece++ % pieceSizes.Count]);
        var count = Math.Min(Math.Min(piece, buffer.Length), data.Length - _position);
        data.AsSpan(_position, count).CopyTo(buffer);
        _position += count;
        return count;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
