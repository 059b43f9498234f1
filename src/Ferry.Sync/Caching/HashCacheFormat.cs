using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using Ferry.Sync.Chunking;

namespace Ferry.Sync.Caching;

/// <summary>
/// The hash cache file, version 2, little-endian:
/// <c>["FERRYHCF"][u32 version][u32 entry count]</c>, the entries from least to most recently used, then
/// <c>[u64 XXH3-64 of all bytes before it]</c>. An entry is
/// <c>[u64 device][u64 inode][i64 size][i64 mtime ns][i64 ctime ns][16-byte content hash][u8 has chunks]</c>, and when it
/// has chunks <c>[i32 average size][i64 segment length][i32 count]</c> then <c>count × [i32 length][16-byte id]</c>.
/// </summary>
/// <remarks>
/// Reading trusts nothing: the checksum is verified before parsing, and every count, length and chunking parameter is
/// checked again, because a damaged cache must never produce a wrong hash — only a cache miss.
/// </remarks>
internal static class HashCacheFormat
{
    /// <summary>2 since files over one segment are cut with no forced cut at segment boundaries: a version-1 list of such a
    /// file is still a true description of it, but no longer what the other end cuts, so it is dropped with the file.</summary>
    public const int Version = 2;
    public const int EntryFixedSize = 5 * 8 + 16 + 1;
    public const int ChunkListHeaderSize = 4 + 8 + 4;
    public const int ChunkRecordSize = 4 + ChunkId.Size;
    private const int HeaderSize = 8 + 4 + 4;
    private const int TrailerSize = 8;
    private const int WriteBufferSize = 64 * 1024;
    private static ReadOnlySpan<byte> Magic => "FERRYHCF"u8;

    /// <summary>Bytes <paramref name="digest"/> takes in the file: the unit of <see cref="HashCacheLimits.MaxBytes"/>.</summary>
    public static long EntrySize(FileDigest digest) =>
        EntryFixedSize + (digest.Chunks is { } chunks ? ChunkListHeaderSize + (long)chunks.Count * ChunkRecordSize : 0);

    /// <summary>The largest file worth reading for <paramref name="limits"/> (room for the entries plus framing).</summary>
    public static long MaxFileLength(HashCacheLimits limits) => HeaderSize + TrailerSize + 2 * limits.MaxBytes;

    /// <summary>Writes <paramref name="entries"/> (least recently used first) through one pooled 64 KiB buffer.</summary>
    public static async Task WriteAsync(Stream output, IReadOnlyList<FileDigest> entries, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(WriteBufferSize);
        var checksum = new XxHash3();
        try
        {
            var used = WriteHeader(buffer, entries.Count);
            foreach (var entry in entries)
            {
                if (buffer.Length - used < EntryFixedSize + ChunkListHeaderSize)
                    used = await FlushAsync(output, buffer, used, checksum, cancellationToken).ConfigureAwait(false);
                used += WriteEntry(buffer.AsSpan(used), entry);
                if (entry.Chunks is not { } chunks)
                    continue;
                foreach (var chunk in chunks)
                {
                    if (buffer.Length - used < ChunkRecordSize)
                        used = await FlushAsync(output, buffer, used, checksum, cancellationToken).ConfigureAwait(false);
                    BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(used), chunk.Length);
                    chunk.Id.WriteTo(buffer.AsSpan(used + 4));
                    used += ChunkRecordSize;
                }
            }
            await FlushAsync(output, buffer, used, checksum, cancellationToken).ConfigureAwait(false);
            BinaryPrimitives.WriteUInt64LittleEndian(buffer, checksum.GetCurrentHashAsUInt64());
            await output.WriteAsync(buffer.AsMemory(0, TrailerSize), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async ValueTask<int> FlushAsync(Stream output, byte[] buffer, int used, XxHash3 checksum, CancellationToken cancellationToken)
    {
        checksum.Append(buffer.AsSpan(0, used));
        await output.WriteAsync(buffer.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
        return 0;
    }

    private static int WriteHeader(Span<byte> buffer, int count)
    {
        Magic.CopyTo(buffer);
        BinaryPrimitives.WriteInt32LittleEndian(buffer[8..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(buffer[12..], count);
        return HeaderSize;
    }

    private static int WriteEntry(Span<byte> buffer, FileDigest entry)
    {
        var identity = entry.Identity;
        BinaryPrimitives.WriteUInt64LittleEndian(buffer, identity.Device);
        BinaryPrimitives.WriteUInt64LittleEndian(buffer[8..], identity.Inode);
        BinaryPrimitives.WriteInt64LittleEndian(buffer[16..], identity.Size);
        BinaryPrimitives.WriteInt64LittleEndian(buffer[24..], identity.ModifiedNs);
        BinaryPrimitives.WriteInt64LittleEndian(buffer[32..], identity.ChangedNs);
        BinaryPrimitives.WriteUInt128LittleEndian(buffer[40..], entry.ContentHash);
        if (entry.Chunks is not { } chunks || entry.ChunkParameters is not { } parameters)
        {
            buffer[56] = 0;
            return EntryFixedSize;
        }
        buffer[56] = 1;
        BinaryPrimitives.WriteInt32LittleEndian(buffer[57..], parameters.AverageSize);
        BinaryPrimitives.WriteInt64LittleEndian(buffer[61..], parameters.SegmentLength);
        BinaryPrimitives.WriteInt32LittleEndian(buffer[69..], chunks.Count);
        return EntryFixedSize + ChunkListHeaderSize;
    }

    /// <summary>Parses a whole cache file; false, with no entries, for anything but a valid file of this version.</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out List<FileDigest> entries)
    {
        entries = [];
        if (data.Length < HeaderSize + TrailerSize || !data[..8].SequenceEqual(Magic))
            return false;
        var body = data[..^TrailerSize];
        if (XxHash3.HashToUInt64(body) != BinaryPrimitives.ReadUInt64LittleEndian(data[^TrailerSize..]))
            return false;
        if (BinaryPrimitives.ReadInt32LittleEndian(body[8..]) != Version)
            return false;
        var count = BinaryPrimitives.ReadInt32LittleEndian(body[12..]);
        var position = HeaderSize;
        if (count < 0 || count > (body.Length - position) / EntryFixedSize)
            return false;
        var parsed = new List<FileDigest>(count);
        for (var i = 0; i < count; i++)
        {
            if (!TryReadEntry(body, ref position, out var entry))
                return false;
            parsed.Add(entry);
        }
        if (position != body.Length)
            return false;
        entries = parsed;
        return true;
    }

    private static bool TryReadEntry(ReadOnlySpan<byte> body, ref int position, out FileDigest entry)
    {
        entry = null!;
        if (body.Length - position < EntryFixedSize)
            return false;
        var fixedPart = body.Slice(position, EntryFixedSize);
        var identity = new FileIdentity(
            BinaryPrimitives.ReadUInt64LittleEndian(fixedPart),
            BinaryPrimitives.ReadUInt64LittleEndian(fixedPart[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(fixedPart[16..]),
            BinaryPrimitives.ReadInt64LittleEndian(fixedPart[24..]),
            BinaryPrimitives.ReadInt64LittleEndian(fixedPart[32..]));
        var contentHash = BinaryPrimitives.ReadUInt128LittleEndian(fixedPart[40..]);
        var hasChunks = fixedPart[56];
        position += EntryFixedSize;
        if (identity.Size < 0 || hasChunks > 1)
            return false;
        if (hasChunks == 0)
        {
            entry = new FileDigest(identity, contentHash, null, null);
            return true;
        }
        if (body.Length - position < ChunkListHeaderSize)
            return false;
        var average = BinaryPrimitives.ReadInt32LittleEndian(body[position..]);
        var segmentLength = BinaryPrimitives.ReadInt64LittleEndian(body[(position + 4)..]);
        var chunkCount = BinaryPrimitives.ReadInt32LittleEndian(body[(position + 12)..]);
        position += ChunkListHeaderSize;
        if (!TryParameters(average, segmentLength, out var parameters)
            || chunkCount < 0 || chunkCount > (body.Length - position) / ChunkRecordSize)
            return false;
        var chunks = new Chunk[chunkCount];
        long offset = 0;
        for (var i = 0; i < chunks.Length; i++)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(body[position..]);
            if (length <= 0 || length > parameters.MaxSize)
                return false;
            chunks[i] = new Chunk(offset, length, ChunkId.ReadFrom(body.Slice(position + 4, ChunkId.Size)));
            offset += length;
            position += ChunkRecordSize;
        }
        if (offset != identity.Size)
            return false;
        entry = new FileDigest(identity, contentHash, parameters, chunks);
        return true;
    }

    private static bool TryParameters(int average, long segmentLength, out ChunkingParameters parameters)
    {
        try
        {
            parameters = ChunkingParameters.ForAverageSize(average, segmentLength);
            return true;
        }
        catch (ArgumentOutOfRangeException)
        {
            parameters = null!;
            return false;
        }
    }
}
