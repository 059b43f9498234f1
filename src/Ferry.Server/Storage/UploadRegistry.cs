using Ferry.Protocol.Errors;

namespace Ferry.Server.Storage;

/// <summary>
/// The part files of every store of one server, by local path: those that belong to an upload in progress (never swept,
/// one upload each, counted against the open-upload limits) and those kept for resume after their upload ended (counted
/// against the quota of the store that kept them, whoever later deletes them). One registry serves the whole server
/// because stores overlap: the root store's folder holds the homes under it, and a home may lie inside another.
/// </summary>
/// <remarks>Lock order: a store's namespace lock, then this registry's, then a <see cref="QuotaTracker"/>'s.</remarks>
internal sealed class UploadRegistry
{
    private readonly object _gate = new();
    private readonly Dictionary<string, LocalFileStore> _active = new(StringComparer.Ordinal);
    private readonly Dictionary<string, KeptPart> _kept = new(StringComparer.Ordinal);

    /// <param name="maxOpenUploads">Uploads open at once across the server.</param>
    /// <param name="maxOpenUploadsPerStore">Uploads open at once in one store (one user's home).</param>
    public UploadRegistry(int maxOpenUploads, int maxOpenUploadsPerStore)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOpenUploads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOpenUploadsPerStore, 1);
        MaxOpenUploads = maxOpenUploads;
        MaxOpenUploadsPerStore = maxOpenUploadsPerStore;
    }

    public int MaxOpenUploads { get; }
    public int MaxOpenUploadsPerStore { get; }

    /// <summary>Uploads open across the server.</summary>
    public int OpenUploads { get { lock (_gate) return _active.Count; } }

    public bool IsActive(string part)
    {
        lock (_gate) return _active.ContainsKey(part);
    }

    /// <summary>
    /// Opens the upload whose part file is <paramref name="part"/>: checks the open-upload limits, that no other upload
    /// uses the part (<c>transfer_in_progress</c>), and reserves its bytes in the store's quota, counting as free again
    /// what a kept part at the same place held (the upload resumes or overwrites it). Nothing changes when it throws.
    /// </summary>
    public void Begin(LocalFileStore store, string part, string path, long size, long replacedSize)
    {
        lock (_gate)
        {
            if (_active.ContainsKey(part))
                throw new FerryException(FerryErrorCode.TransferInProgress, $"Another upload to '{path}' is in progress.");
            if (store.OpenUploads >= MaxOpenUploadsPerStore)
                throw new FerryException(FerryErrorCode.TooManyUploads,
                    $"You already have {store.OpenUploads} uploads open, the most the server allows per user; end some (put_end) and try again.");
            if (_active.Count >= MaxOpenUploads)
                throw new FerryException(FerryErrorCode.TooManyUploads,
                    $"The server already has {_active.Count} uploads open, its limit; try again shortly.");
            _kept.TryGetValue(part, out var kept);
            var reclaimed = kept is not null && kept.Quota == store.Quota ? kept.Bytes : 0;
            store.Quota.Reserve(size, replacedSize, reclaimed);
            if (kept is not null)
            {
                if (reclaimed == 0)
                    kept.Quota.Unkeep(kept.Bytes); // counted by an overlapping store: that store no longer holds it
                _kept.Remove(part);
            }
            _active[part] = store;
            store.OpenUploads++;
        }
    }

    /// <summary>
    /// Ends an upload begun with <see cref="Begin"/>. With <paramref name="keptBytes"/> the part file stays for resume
    /// and that many bytes count against the store's quota until it is resumed or deleted.
    /// </summary>
    public void End(LocalFileStore store, string part, long? keptBytes)
    {
        lock (_gate)
        {
            if (!_active.Remove(part))
                return;
            store.OpenUploads--;
            if (keptBytes is { } bytes)
                KeepLocked(part, store, bytes);
        }
    }

    /// <summary>
    /// Counts a part file found on disk against <paramref name="store"/>'s quota, unless it is in use or counted by a
    /// store whose root is at least as deep (the root store, measured first, must not keep a home's parts from its user).
    /// </summary>
    public void Adopt(string part, LocalFileStore store, long bytes)
    {
        lock (_gate)
        {
            if (_active.ContainsKey(part))
                return;
            if (_kept.TryGetValue(part, out var kept))
            {
                if (kept.OwnerRootLength >= store.RootPath.Length)
                    return;
                kept.Quota.Unkeep(kept.Bytes);
            }
            KeepLocked(part, store, bytes);
        }
    }

    /// <summary>The kept parts counted against <paramref name="quota"/>.</summary>
    public IReadOnlyList<string> KeptBy(QuotaTracker quota)
    {
        lock (_gate)
            return _kept.Where(kv => kv.Value.Quota == quota).Select(kv => kv.Key).ToList();
    }

    /// <summary>
    /// Deletes a part file (and its .meta) unless an upload uses it or <paramref name="shouldDelete"/> says no, and stops
    /// counting it. Runs under the registry's lock so that no upload can begin on the part while it is deleted.
    /// </summary>
    /// <param name="folder">A root the part lies under: on Linux the folders from there down are opened without following
    /// links, so a folder swapped for a link meanwhile makes the delete fail rather than remove a file elsewhere.</param>
    public bool TryDeleteIdle(string part, string folder, Func<string, bool> shouldDelete)
    {
        lock (_gate)
        {
            if (_active.ContainsKey(part) || !shouldDelete(part))
                return false;
            if (Beneath.IsSupported)
            {
                Beneath.DeleteUnder(folder, part);
                Beneath.DeleteUnder(folder, part + LocalUpload.MetaSuffix);
            }
            else
            {
                File.Delete(part);
                File.Delete(part + LocalUpload.MetaSuffix);
            }
            if (_kept.Remove(part, out var kept))
                kept.Quota.Unkeep(kept.Bytes);
            return true;
        }
    }

    /// <summary>Stops counting the kept parts under <paramref name="folder"/>, which was just removed.</summary>
    public void ForgetKeptUnder(string folder)
    {
        var prefix = folder.TrimEnd('/') + "/";
        lock (_gate)
        {
            foreach (var part in _kept.Keys.Where(p => p.StartsWith(prefix, StringComparison.Ordinal)).ToList())
            {
                _kept.Remove(part, out var kept);
                kept!.Quota.Unkeep(kept.Bytes);
            }
        }
    }

    private void KeepLocked(string part, LocalFileStore store, long bytes)
    {
        _kept[part] = new KeptPart(store.Quota, bytes, store.RootPath.Length);
        store.Quota.Keep(bytes);
    }

    private sealed record KeptPart(QuotaTracker Quota, long Bytes, int OwnerRootLength);
}
