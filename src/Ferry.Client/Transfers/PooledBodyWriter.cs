using System.Buffers;

namespace Ferry.Client.Transfers;

/// <summary>
/// A frame body assembled in one array from the shared pool, of a capacity the caller computed from what it will
/// write. A put_files body of a large file or many small ones is hundreds of KiB to 4 MiB: a fresh array per frame
/// (as ArrayBufferWriter grows one) lands on the large object heap and, one frame after another, made the client run a
/// full collection every few files.
/// </summary>
internal sealed class PooledBodyWriter(int capacity) : IBufferWriter<byte>, IDisposable
{
    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(capacity);
    private int _written;

    public int WrittenCount => _written;

    public ReadOnlyMemory<byte> WrittenMemory => Buffer.AsMemory(0, _written);

    private byte[] Buffer => _buffer ?? throw new ObjectDisposedException(nameof(PooledBodyWriter));

    public void Advance(int count)
    {
        if ((uint)count > (uint)(Buffer.Length - _written))
            throw new ArgumentOutOfRangeException(nameof(count));
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0) => Buffer.AsMemory(_written, Free(sizeHint));

    public Span<byte> GetSpan(int sizeHint = 0) => Buffer.AsSpan(_written, Free(sizeHint));

    /// <summary>The room left, which must hold <paramref name="sizeHint"/>: the capacity is the caller's bound, never grown.</summary>
    private int Free(int sizeHint)
    {
        var free = Buffer.Length - _written;
        if (free < Math.Max(sizeHint, 1))
            throw new InvalidOperationException($"A body sized for {capacity} bytes was asked for {Math.Max(sizeHint, 1)} more after {_written}.");
        return free;
    }

    public void Dispose()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
