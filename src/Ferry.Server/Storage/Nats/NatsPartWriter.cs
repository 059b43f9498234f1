using System.Buffers;
using Ferry.Protocol.Files;
using NATS.Client.ObjectStore.Models;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// One part of an upload: its bytes gather in a pooled buffer of exactly the part's length while they arrive, then go to
/// their object in one put. Holding the part (at most 4 MiB) is what lets the put be made again when the cluster loses
/// the stream's leader halfway through it, instead of failing the whole upload.
/// </summary>
internal sealed class NatsPartWriter : IDisposable
{
    /// <summary>
    /// Bytes per message of a part's object: 512 KiB rather than the object store's 128 KiB, so a 4 MiB part is 8
    /// messages to acknowledge on the way in and 8 direct gets on the way out (see <see cref="NatsPartReader"/>), well
    /// under nats-server's default 1 MiB payload limit.
    /// </summary>
    private const int ChunkSize = 512 * 1024;

    private readonly ChecksumAlgorithm.Hasher _hasher;
    private readonly NatsPartMemory _memory;
    private readonly int _capacity;
    private byte[]? _buffer;

    private NatsPartWriter(string name, int capacity, ChecksumAlgorithm checksum, NatsPartMemory memory)
    {
        Name = name;
        _capacity = capacity;
        _memory = memory;
        _buffer = ArrayPool<byte>.Shared.Rent(capacity);
        _hasher = checksum.CreateHasher();
    }

    /// <summary>A new part of <paramref name="capacity"/> bytes, once the server's part memory has room for it.</summary>
    public static async ValueTask<NatsPartWriter> ReserveAsync(NatsBuckets buckets, string name, int capacity, ChecksumAlgorithm checksum,
        CancellationToken cancellationToken)
    {
        await buckets.PartMemory.ReserveAsync(capacity, cancellationToken).ConfigureAwait(false);
        return new NatsPartWriter(name, capacity, checksum, buckets.PartMemory);
    }

    public string Name { get; }
    public int Length { get; private set; }
    public int Room => _capacity - Length;

    public void Append(ReadOnlySpan<byte> data)
    {
        data.CopyTo(_buffer.AsSpan(Length, Room));
        _hasher.Append(data);
        Length += data.Length;
    }

    /// <summary>Puts the part into its object (again while the cluster is between leaders) and returns its checksum.</summary>
    public async Task<byte[]> StoreAsync(NatsBuckets buckets, CancellationToken cancellationToken)
    {
        var buffer = _buffer ?? throw new ObjectDisposedException(nameof(NatsPartWriter));
        await buckets.PartPuts.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await NatsRetry.RunAsync(async c =>
            {
                using var contents = new MemoryStream(buffer, 0, Length, writable: false);
                return await buckets.Data.PutAsync(new ObjectMetadata { Name = Name, Options = new MetaDataOptions { MaxChunkSize = ChunkSize } }, contents,
                    leaveOpen: true, c).ConfigureAwait(false);
            }, "storing a part of a file", cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            buckets.PartPuts.Release();
        }
        return _hasher.GetHashAndReset();
    }

    public void Dispose()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
            _hasher.Dispose();
            _memory.Release(_capacity);
        }
    }
}
