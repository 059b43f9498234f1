using System.Buffers;
using Ferry.Protocol.Files;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Client.Transfers;

/// <summary>
/// Writes a received body to a file at increasing offsets, hashing it on the way, while the network keeps being read:
/// bytes are gathered into one of two pooled 1 MiB buffers, and a full buffer is hashed and written in the background
/// while the other fills. At most one write is in flight, so the file and the hash see the bytes in order. Without a
/// hasher (a range of a file assembled from several connections) it only writes.
/// </summary>
internal sealed class FileSink : IAsyncDisposable
{
    private const int BufferSize = 1024 * 1024;
    private readonly SafeFileHandle _handle;
    private readonly ChecksumAlgorithm.Hasher? _hasher;
    private byte[] _filling = ArrayPool<byte>.Shared.Rent(BufferSize);
    private byte[] _writing = ArrayPool<byte>.Shared.Rent(BufferSize);
    private int _filled;
    private long _position;
    private Task _pending = Task.CompletedTask;

    public FileSink(SafeFileHandle handle, long position, ChecksumAlgorithm.Hasher? hasher)
    {
        _handle = handle;
        _position = position;
        _hasher = hasher;
    }

    /// <summary>File offset after everything handed over so far.</summary>
    public long Position => _position + _filled;

    /// <summary>Copies <paramref name="data"/> in; may wait for the previous write when a buffer fills. Write errors surface here or in <see cref="FlushAsync"/>.</summary>
    public async ValueTask WriteAsync(ReadOnlySequence<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            var take = (int)Math.Min(data.Length, BufferSize - _filled);
            data.Slice(0, take).CopyTo(_filling.AsSpan(_filled));
            _filled += take;
            data = data.Slice(take);
            if (_filled == BufferSize)
                await StartWriteAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The free part of the buffer being filled, for a reader that receives straight into it; report what it put there
    /// with <see cref="AdvanceAsync"/> before any other call.
    /// </summary>
    public Memory<byte> GetMemory() => _filling.AsMemory(_filled, BufferSize - _filled);

    /// <summary>Counts <paramref name="count"/> bytes received into <see cref="GetMemory"/>; starts the write when the buffer is full.</summary>
    public ValueTask AdvanceAsync(int count, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)count, (uint)(BufferSize - _filled), nameof(count));
        _filled += count;
        return _filled == BufferSize ? StartWriteAsync(cancellationToken) : ValueTask.CompletedTask;
    }

    /// <summary>Writes what is buffered and waits for every write.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_filled > 0)
            await StartWriteAsync(cancellationToken).ConfigureAwait(false);
        await _pending.ConfigureAwait(false);
    }

    private async ValueTask StartWriteAsync(CancellationToken cancellationToken)
    {
        await _pending.ConfigureAwait(false);
        (_filling, _writing) = (_writing, _filling);
        var buffer = _writing;
        var count = _filled;
        var offset = _position;
        _position += count;
        _filled = 0;
        // One work item per buffer that writes synchronously: on Unix RandomAccess.WriteAsync is itself a blocking
        // pwrite queued to the thread pool, so awaiting it here cost a second hand-off and wake-up per MiB.
        var handle = _handle;
        var hasher = _hasher;
        _pending = Task.Run(() =>
        {
            hasher?.Append(buffer.AsSpan(0, count));
            RandomAccess.Write(handle, buffer.AsSpan(0, count), offset);
        }, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _pending.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(_filling);
            ArrayPool<byte>.Shared.Return(_writing);
        }
    }
}
