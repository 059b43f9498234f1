using System.Buffers;

namespace Ferry.Protocol.Files;

/// <summary>
/// Hashes of a file's fixed-size chunks, as resume and the <c>hashes</c> command use them (docs/protocol.md §5.2, §5.3.1):
/// one hash per whole chunk <c>[i*C, (i+1)*C)</c> of a prefix, in order, raw bytes back to back. The same single pass can
/// feed a whole-file hasher, so a resumed transfer reads its prefix once.
/// </summary>
internal static class ChunkHashes
{
    private const int ReadBlockSize = 1024 * 1024;

    /// <summary>
    /// Reads <c>[0, <paramref name="length"/>)</c> through <paramref name="read"/> and returns the hash of every whole chunk of
    /// <paramref name="chunkSize"/> bytes in it (a trailing partial chunk has no hash; <paramref name="chunkSize"/> 0 asks for
    /// none). Every byte read, the trailing part included, is also appended to <paramref name="whole"/> when given. A source
    /// that ends before <paramref name="length"/> is an <see cref="IOException"/>.
    /// </summary>
    public static async ValueTask<byte[]> ComputeAsync(ChecksumAlgorithm.ReadAt read, long length, int chunkSize, ChecksumAlgorithm algorithm,
        ChecksumAlgorithm.Hasher? whole, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfNegative(chunkSize);
        var chunks = chunkSize == 0 ? 0 : length / chunkSize;
        var hashes = new byte[checked((int)(chunks * algorithm.HashBytes))];
        // Without a whole-file hasher, the trailing partial chunk need not be read at all.
        var end = whole is null ? chunks * chunkSize : length;
        using var chunkHasher = chunks > 0 ? algorithm.CreateHasher() : null;
        var buffer = ArrayPool<byte>.Shared.Rent(ReadBlockSize);
        try
        {
            var position = 0L;
            var index = 0L;
            while (position < end)
            {
                // A read never crosses a chunk boundary, so each chunk's hash closes exactly at its end.
                var chunkEnd = index < chunks ? (index + 1) * chunkSize : end;
                var want = (int)Math.Min(buffer.Length, chunkEnd - position);
                var n = await read(buffer.AsMemory(0, want), position, cancellationToken).ConfigureAwait(false);
                if (n <= 0)
                    throw new IOException($"The file ended at byte {position} while its first {length} bytes were being hashed.");
                n = Math.Min(n, want);
                whole?.Append(buffer.AsSpan(0, n));
                position += n;
                if (index < chunks)
                {
                    chunkHasher!.Append(buffer.AsSpan(0, n));
                    if (position == chunkEnd)
                    {
                        chunkHasher.GetHashAndReset().CopyTo(hashes, index * algorithm.HashBytes);
                        index++;
                    }
                }
            }
            return hashes;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>How many leading chunks of <paramref name="local"/> and <paramref name="remote"/> are equal.</summary>
    public static int MatchingPrefix(ReadOnlySpan<byte> local, ReadOnlySpan<byte> remote, ChecksumAlgorithm algorithm)
    {
        var h = algorithm.HashBytes;
        var count = Math.Min(local.Length, remote.Length) / h;
        for (var i = 0; i < count; i++)
        {
            if (!local.Slice(i * h, h).SequenceEqual(remote.Slice(i * h, h)))
                return i;
        }
        return count;
    }
}
