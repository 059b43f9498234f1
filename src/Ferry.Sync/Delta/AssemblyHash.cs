using Ferry.Protocol.Files;

namespace Ferry.Sync.Delta;

/// <summary>
/// The whole-file hash of a file being assembled by writes at any offsets (a delta put or pull, §5.9.3, or a plain
/// upload), computed while it is written so that the final check need not read the file again.
/// </summary>
/// <remarks>
/// <para>The check must be of the bytes the file holds, not of what was meant to be written: a basis that changes
/// while its ranges are copied must make the check fail. So the hash is fed only with the very buffers handed to the
/// writes (<see cref="Written"/>), never with what a chunk list or a cache says those bytes are.</para>
/// <para>A hash like XXH3 is a running state over the bytes in file order; it cannot take a range out of order. A write
/// at the frontier (the end of what is hashed) is appended. A write beyond the frontier is remembered as a range
/// written but not hashed; when the frontier reaches it, it is read back from the file and hashed (that read sees what
/// the file holds, as a re-read at the end would). A write before the frontier changes bytes already hashed: the hash
/// no longer describes the file and is given up (<see cref="IsBroken"/>); the caller then re-reads the whole file. So
/// whenever <see cref="IsComplete"/> holds, the hash is that of the file's bytes in [0, length) as last written.</para>
/// <para>Not thread-safe: the writes it is told about must be reported one at a time, each once its bytes are final in
/// the buffer, and a range is read back only after every earlier write to it has completed (the caller's writes to a
/// range beyond the frontier end before the frontier can reach it, since they are reported in order).</para>
/// </remarks>
internal sealed class AssemblyHash : IDisposable
{
    /// <summary>Ranges written beyond the frontier that are remembered at once; past that the hash is given up.</summary>
    public const int MaxAheadRanges = 4096;

    private const int ReadBackBlock = 1024 * 1024;

    private readonly ChecksumAlgorithm.Hasher _hasher;
    private readonly long _length;

    /// <summary>Written but not hashed: sorted, disjoint, each starting beyond the frontier.</summary>
    private readonly List<(long Start, long End)> _ahead = [];

    /// <summary>Starts at <paramref name="hashedUpTo"/>: <paramref name="hasher"/> already holds the file's bytes before it.</summary>
    /// <param name="hasher">The running hash; this object owns and disposes it.</param>
    /// <param name="length">The assembled file's final length.</param>
    /// <param name="hashedUpTo">Bytes at the start of the file already fed to <paramref name="hasher"/> (a resumed upload's prefix).</param>
    public AssemblyHash(ChecksumAlgorithm.Hasher hasher, long length, long hashedUpTo = 0)
    {
        ArgumentNullException.ThrowIfNull(hasher);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfNegative(hashedUpTo);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hashedUpTo, length);
        _hasher = hasher;
        _length = length;
        HashedUpTo = hashedUpTo;
    }

    /// <summary>The frontier: every byte before it is in the hash.</summary>
    public long HashedUpTo { get; private set; }

    /// <summary>True once a write changed bytes already hashed (or too many ranges came out of order): the hash is useless.</summary>
    public bool IsBroken { get; private set; }

    /// <summary>True when the hash covers the whole file as it was written.</summary>
    public bool IsComplete => !IsBroken && HashedUpTo == _length;

    /// <summary>
    /// Reports that <paramref name="data"/> was (or is being) written at <paramref name="offset"/>: exactly these bytes,
    /// which must not change until the write is done. <paramref name="readBack"/> reads the file itself (offset, buffer;
    /// returns the bytes read, 0 at its end), for ranges written earlier beyond the frontier that this write reaches.
    /// </summary>
    public void Written(ReadOnlySpan<byte> data, long offset, Func<long, Memory<byte>, int> readBack)
    {
        ArgumentNullException.ThrowIfNull(readBack);
        if (IsBroken || data.IsEmpty)
            return;
        var end = offset + data.Length;
        if (offset < HashedUpTo || end > _length)
        {
            Break();
            return;
        }
        if (offset > HashedUpTo)
        {
            AddAhead(offset, end);
            return;
        }
        _hasher.Append(data);
        HashedUpTo = end;
        CatchUp(readBack);
    }

    /// <summary>The hash of the whole file; only when <see cref="IsComplete"/>.</summary>
    public byte[] GetHash()
    {
        if (!IsComplete)
            throw new InvalidOperationException($"Only {HashedUpTo} of {_length} bytes were hashed in order.");
        return _hasher.GetHashAndReset();
    }

    public void Dispose() => _hasher.Dispose();

    private void Break()
    {
        IsBroken = true;
        _ahead.Clear();
    }

    private void AddAhead(long start, long end)
    {
        // Merge with every range it touches; the list stays sorted and disjoint.
        var index = _ahead.FindIndex(r => r.End >= start);
        if (index < 0)
            index = _ahead.Count;
        while (index < _ahead.Count && _ahead[index].Start <= end)
        {
            start = Math.Min(start, _ahead[index].Start);
            end = Math.Max(end, _ahead[index].End);
            _ahead.RemoveAt(index);
        }
        _ahead.Insert(index, (start, end));
        if (_ahead.Count > MaxAheadRanges)
            Break();
    }

    /// <summary>Hashes, from the file, the ranges written earlier that the frontier now reaches.</summary>
    private void CatchUp(Func<long, Memory<byte>, int> readBack)
    {
        if (_ahead.Count == 0 || _ahead[0].Start > HashedUpTo)
            return;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(ReadBackBlock);
        try
        {
            while (_ahead.Count > 0 && _ahead[0].Start <= HashedUpTo)
            {
                var (_, end) = _ahead[0];
                _ahead.RemoveAt(0);
                // The part before the frontier was just written again by the write that moved it: hashed already.
                while (HashedUpTo < end)
                {
                    var wanted = (int)Math.Min(buffer.Length, end - HashedUpTo);
                    var n = readBack(HashedUpTo, buffer.AsMemory(0, wanted));
                    if (n <= 0)
                    {
                        Break(); // shorter than what was written: the caller's own checks of the length report it
                        return;
                    }
                    _hasher.Append(buffer.AsSpan(0, n));
                    HashedUpTo += n;
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
