using Ferry.Protocol.Errors;

namespace Ferry.Server.Storage;

/// <summary>
/// Bytes stored under a root against an optional limit. Uploads reserve their size up front, so that concurrent uploads
/// cannot together overrun the quota; a commit turns the reservation into usage.
/// </summary>
public sealed class QuotaTracker
{
    private readonly object _gate = new();
    private long _used;
    private long _reserved;

    public QuotaTracker(long? limitBytes, long usedBytes)
    {
        LimitBytes = limitBytes;
        _used = usedBytes;
    }

    /// <summary>Null means unlimited.</summary>
    public long? LimitBytes { get; }

    public long UsedBytes { get { lock (_gate) return _used; } }

    /// <summary>Reserves room for a file of <paramref name="size"/> that replaces <paramref name="replacedSize"/> bytes, or throws quota_exceeded.</summary>
    public void Reserve(long size, long replacedSize)
    {
        lock (_gate)
        {
            var after = _used + _reserved + size - replacedSize;
            if (LimitBytes is { } limit && size > replacedSize && after > limit)
                throw new FerryException(FerryErrorCode.QuotaExceeded,
                    $"Storing {size} bytes would exceed the quota of {limit} bytes ({_used} used, {_reserved} reserved by uploads in progress).");
            _reserved += size;
        }
    }

    public void Release(long size)
    {
        lock (_gate) _reserved -= size;
    }

    /// <summary>A reserved upload was committed, replacing <paramref name="replacedSize"/> bytes.</summary>
    public void Commit(long size, long replacedSize)
    {
        lock (_gate)
        {
            _reserved -= size;
            _used += size - replacedSize;
        }
    }

    public void Freed(long size)
    {
        lock (_gate) _used = Math.Max(0, _used - size);
    }
}
