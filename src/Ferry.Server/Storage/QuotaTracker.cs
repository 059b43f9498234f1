using Ferry.Protocol.Errors;

namespace Ferry.Server.Storage;

/// <summary>
/// Bytes stored under a root against an optional limit. Uploads reserve their size up front, so that concurrent uploads
/// cannot together overrun the quota; a commit turns the reservation into usage after checking again what it really
/// replaces. Partial uploads kept for resume count too, until they are resumed or deleted. One tracker serves a store
/// for its whole life; a changed limit (users file reloaded) is set on it, so reservations are never split.
/// </summary>
public sealed class QuotaTracker
{
    private readonly object _gate = new();
    private long? _limit;
    private long _used;
    private long _reserved;
    private long _kept;

    public QuotaTracker(long? limitBytes, long usedBytes)
    {
        _limit = limitBytes;
        _used = usedBytes;
    }

    /// <summary>Null means unlimited.</summary>
    public long? LimitBytes { get { lock (_gate) return _limit; } }

    public long UsedBytes { get { lock (_gate) return _used; } }

    /// <summary>Bytes reserved by uploads in progress.</summary>
    public long ReservedBytes { get { lock (_gate) return _reserved; } }

    /// <summary>Bytes of partial uploads kept on disk for resume.</summary>
    public long KeptBytes { get { lock (_gate) return _kept; } }

    /// <summary>
    /// Reserves room for a file of <paramref name="size"/> that replaces <paramref name="replacedSize"/> bytes, or throws
    /// quota_exceeded. <paramref name="reclaimedKeptBytes"/> of kept partial uploads stop counting (the upload takes over
    /// their part file).
    /// </summary>
    public void Reserve(long size, long replacedSize, long reclaimedKeptBytes = 0)
    {
        lock (_gate)
        {
            var after = _used + _reserved + _kept - reclaimedKeptBytes + size - replacedSize;
            if (_limit is { } limit && size > replacedSize && after > limit)
                throw Exceeded(size, limit);
            _reserved += size;
            _kept -= reclaimedKeptBytes;
        }
    }

    /// <summary>True when <see cref="Reserve"/> would accept the same upload now.</summary>
    internal bool WouldFit(long size, long replacedSize)
    {
        lock (_gate)
            return _limit is not { } limit || size <= replacedSize || _used + _reserved + _kept + size - replacedSize <= limit;
    }

    public void Release(long size)
    {
        lock (_gate) _reserved -= size;
    }

    /// <summary>
    /// Checks, just before a reserved upload of <paramref name="size"/> is committed, that it fits once it really replaces
    /// <paramref name="replacedSize"/> bytes (the file at its target may have changed since the upload began).
    /// </summary>
    public void CheckCommit(long size, long replacedSize)
    {
        lock (_gate)
        {
            // The reservation already holds this upload's size.
            if (_limit is { } limit && size > replacedSize && _used + _reserved + _kept - replacedSize > limit)
                throw Exceeded(size, limit);
        }
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

    internal void SetLimit(long? limitBytes)
    {
        lock (_gate) _limit = limitBytes;
    }

    /// <summary>Sets the usage measured on disk (while nothing else changes the store).</summary>
    internal void SetUsed(long usedBytes)
    {
        lock (_gate) _used = usedBytes;
    }

    internal void Keep(long bytes)
    {
        lock (_gate) _kept += bytes;
    }

    internal void Unkeep(long bytes)
    {
        lock (_gate) _kept = Math.Max(0, _kept - bytes);
    }

    private FerryException Exceeded(long size, long limit) =>
        new(FerryErrorCode.QuotaExceeded,
            $"Storing {size} bytes would exceed the quota of {limit} bytes ({_used} used, {_reserved} reserved by uploads in progress, {_kept} held by partial uploads).");
}
