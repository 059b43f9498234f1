using Ferry.Protocol.Files;
using NATS.Client.ObjectStore;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// A file of the NATS store open for reading, its parts one after the other. The object store gives an object only from
/// its start, as a stream, so this keeps up to <see cref="MaxCursors"/> streams open at the positions readers reached (a
/// get reads on from one while its checksum is computed from another); a read anywhere else opens a new one at the part
/// that holds it and skips within that part. Nothing is held in memory
/// beyond each stream's bounded pipe.
/// </summary>
internal sealed class NatsStoredFile(NatsBuckets buckets, IReadOnlyList<string> parts, long partSize, long length, DateTimeOffset modifiedTime,
    string? checksumName = null, string? hash = null) : IStoredFile, IRecordedChecksum
{
    private const int MaxCursors = 2;

    private readonly List<NatsObjectCursor> _cursors = [];

    public long Length => length;
    public DateTimeOffset ModifiedTime => modifiedTime;

    public byte[]? RecordedHash(ChecksumAlgorithm algorithm) =>
        hash is not null && checksumName == algorithm.Name ? Convert.FromHexString(hash) : null;

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken)
    {
        if (offset >= length || buffer.Length == 0)
            return 0;
        if (buffer.Length > length - offset)
            buffer = buffer[..(int)(length - offset)];
        NatsObjectCursor cursor;
        lock (_cursors)
        {
            cursor = _cursors.FirstOrDefault(c => c.Position == offset && !c.Busy) ?? OpenCursor(offset);
            cursor.Busy = true;
        }
        try
        {
            if (cursor.Position < offset)
                await cursor.SkipAsync(offset - cursor.Position, cancellationToken).ConfigureAwait(false);
            return await cursor.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_cursors)
                cursor.Busy = false;
        }
    }

    /// <summary>A new stream from the object's start; the least recently opened idle one makes room. Called under the lock.</summary>
    private NatsObjectCursor OpenCursor(long offset)
    {
        if (_cursors.Count >= MaxCursors && _cursors.FirstOrDefault(c => !c.Busy) is { } idle)
        {
            _cursors.Remove(idle);
            _ = idle.DisposeAsync().AsTask();
        }
        var cursor = new NatsObjectCursor(buckets, parts, partSize, offset);
        _cursors.Add(cursor);
        return cursor;
    }

    public async ValueTask DisposeAsync()
    {
        List<NatsObjectCursor> open;
        lock (_cursors)
        {
            open = [.. _cursors];
            _cursors.Clear();
        }
        foreach (var cursor in open)
            await cursor.DisposeAsync().ConfigureAwait(false);
    }
}
