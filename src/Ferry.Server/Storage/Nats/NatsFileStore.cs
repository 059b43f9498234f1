using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// One home in the NATS store (docs/deploy.md "Several servers on NATS"): names in the shared namespace bucket under the
/// user's token, contents as immutable objects. Every change is a compare-and-set or create-only write of one key, so two
/// servers changing the same name cannot both win; what a failed or raced change leaves behind (an object nothing points
/// to) is removed by the provider's sweep.
/// </summary>
internal sealed class NatsFileStore(NatsBuckets buckets, string userToken, string description, long? quotaBytes = null, NatsQuotaLedger? ledger = null)
    : IFileStore
{
    /// <summary>The user's byte quota, held across all servers by <see cref="NatsQuotaLedger"/>; null for none.</summary>
    public long? QuotaBytes => quotaBytes;

    private const int DefaultFileMode = 0x1A4;      // 0o644
    private const int DefaultDirectoryMode = 0x1ED; // 0o755

    /// <summary>Deeper trees are refused, as on the local store (a recursive listing or delete must end).</summary>
    private const int MaxDepth = 256;

    public string Description => description;

    private static readonly NatsEntry s_root = new() { Kind = NatsEntry.DirectoryKind, Id = NatsKeys.RootId, Mode = DefaultDirectoryMode };

    /// <summary>
    /// The names along a path, refused as on the local store when too deep or when one is a name the server keeps for
    /// itself there (<c>.ferry-</c>...): a client sees the same rules whichever store serves it.
    /// </summary>
    private static string[] Names(string path)
    {
        var names = path.Split('/');
        if (names.Length > MaxDepth)
            throw new FerryException(FerryErrorCode.PathTooLong, $"'{path}' is more than {MaxDepth} folders deep.");
        foreach (var name in names)
            PathJail.CheckName(name);
        return names;
    }

    /// <summary>Finds <paramref name="path"/>'s folder (every name on the way must be a folder) and what its name holds.</summary>
    private async ValueTask<NatsLocation> LocateAsync(string path, CancellationToken cancellationToken)
    {
        if (path.Length == 0)
            return new NatsLocation("", "", "", "", s_root, 0);
        var names = Names(path);
        var folderId = NatsKeys.RootId;
        for (var i = 0; i < names.Length - 1; i++)
        {
            var found = await buckets.GetAsync(NatsKeys.Entry(userToken, folderId, names[i]), cancellationToken).ConfigureAwait(false);
            var walked = string.Join('/', names.Take(i + 1));
            if (found is not { } folder)
                throw new FerryException(FerryErrorCode.NotFound, $"'{walked}' does not exist.");
            if (!folder.Entry.IsDirectory)
                throw new FerryException(FerryErrorCode.NotADirectory, $"'{walked}' is a file, not a directory.");
            folderId = folder.Entry.Id!;
        }
        var name = names[^1];
        var key = NatsKeys.Entry(userToken, folderId, name);
        var entry = await buckets.GetAsync(key, cancellationToken).ConfigureAwait(false);
        return new NatsLocation(path, folderId, name, key, entry?.Entry, entry?.Revision ?? 0);
    }

    public async ValueTask<StoreEntry?> StatAsync(string path, CancellationToken cancellationToken)
    {
        var location = await LocateAsync(path, cancellationToken).ConfigureAwait(false);
        return location.Entry is { } entry ? ToStoreEntry(location.Name, entry) : null;
    }

    public async ValueTask<IReadOnlyList<StoreEntry>> ListAsync(string path, bool recursive, CancellationToken cancellationToken)
    {
        var location = await LocateAsync(path, cancellationToken).ConfigureAwait(false);
        var entry = location.Entry ?? throw NotFound(path);
        if (!entry.IsDirectory)
            return [ToStoreEntry(location.Name, entry)];
        var entries = new List<StoreEntry>();
        await AddChildrenAsync(entry.Id!, "", recursive, 0, entries, cancellationToken).ConfigureAwait(false);
        return entries;
    }

    private async ValueTask AddChildrenAsync(string folderId, string prefix, bool recursive, int depth, List<StoreEntry> into, CancellationToken cancellationToken)
    {
        if (depth > MaxDepth)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"The tree is more than {MaxDepth} folders deep.");
        foreach (var (name, child) in await ChildrenAsync(folderId, cancellationToken).ConfigureAwait(false))
        {
            var relative = prefix.Length == 0 ? name : $"{prefix}/{name}";
            into.Add(ToStoreEntry(relative, child));
            if (recursive && child.IsDirectory)
                await AddChildrenAsync(child.Id!, relative, recursive, depth + 1, into, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A folder's entries by name in ordinal order.</summary>
    private async Task<List<(string Name, NatsEntry Entry)>> ChildrenAsync(string folderId, CancellationToken cancellationToken)
    {
        var found = await buckets.ListAsync(NatsKeys.Children(userToken, folderId), cancellationToken).ConfigureAwait(false);
        return found.Select(f => (NatsKeys.NameOf(NatsKeys.LastToken(f.Key)), f.Entry)).OrderBy(f => f.Item1, StringComparer.Ordinal).ToList();
    }

    public async ValueTask CreateDirectoryAsync(string path, bool parents, CancellationToken cancellationToken)
    {
        if (path.Length == 0)
        {
            if (parents)
                return;
            throw new FerryException(FerryErrorCode.AlreadyExists, "The root already exists.");
        }
        var names = Names(path);
        var folderId = NatsKeys.RootId;
        for (var i = 0; i < names.Length; i++)
        {
            var walked = string.Join('/', names.Take(i + 1));
            var last = i == names.Length - 1;
            var key = NatsKeys.Entry(userToken, folderId, names[i]);
            var existing = await buckets.GetAsync(key, cancellationToken).ConfigureAwait(false);
            if (existing is null && (last || parents))
            {
                var created = new NatsEntry { Kind = NatsEntry.DirectoryKind, Id = NatsKeys.NewId(), Mode = DefaultDirectoryMode, ModifiedNs = NowNs() };
                if (await buckets.TryCreateAsync(key, created, cancellationToken).ConfigureAwait(false))
                {
                    folderId = created.Id!;
                    continue;
                }
                existing = await buckets.GetAsync(key, cancellationToken).ConfigureAwait(false); // made by someone else meanwhile
            }
            if (existing is not { } found)
                throw new FerryException(FerryErrorCode.NotFound, $"'{RemotePath.Parent(walked)}' does not exist; use mkdir -p to create parents.");
            if (!found.Entry.IsDirectory)
                throw new FerryException(last ? FerryErrorCode.AlreadyExists : FerryErrorCode.NotADirectory,
                    last ? $"'{walked}' already exists as a file." : $"'{walked}' is a file, not a directory.");
            if (last && !parents)
                throw new FerryException(FerryErrorCode.AlreadyExists, $"'{walked}' already exists.");
            folderId = found.Entry.Id!;
        }
    }

    public async ValueTask DeleteAsync(string path, bool recursive, CancellationToken cancellationToken)
    {
        if (path.Length == 0)
            throw new FerryException(FerryErrorCode.PermissionDenied, "The root cannot be removed.");
        var location = await LocateAsync(path, cancellationToken).ConfigureAwait(false);
        var entry = location.Entry ?? throw NotFound(path);
        if (entry.IsDirectory)
        {
            var children = await ChildrenAsync(entry.Id!, cancellationToken).ConfigureAwait(false);
            if (children.Count > 0 && !recursive)
                throw new FerryException(FerryErrorCode.DirectoryNotEmpty, $"'{path}' is not empty; use rm -r.");
            foreach (var (name, _) in children)
                await DeleteAsync(RemotePath.Combine(path, name), recursive: true, cancellationToken).ConfigureAwait(false);
        }
        // The object of a file stays until the sweep: another name may still point to it after an interrupted move.
        if (!await buckets.TryDeleteAsync(location.Key, location.Revision, cancellationToken).ConfigureAwait(false))
            throw Changed(path);
    }

    public async ValueTask MoveAsync(string from, string to, bool force, CancellationToken cancellationToken)
    {
        if (from.Length == 0 || to.Length == 0)
            throw new FerryException(FerryErrorCode.PermissionDenied, "The root cannot be moved or replaced.");
        if (to == from)
            return;
        if (to.StartsWith(from + "/", StringComparison.Ordinal))
            throw new FerryException(FerryErrorCode.FieldInvalid, $"'{from}' cannot be moved into itself ('{to}').");
        var source = await LocateAsync(from, cancellationToken).ConfigureAwait(false);
        var entry = source.Entry ?? throw NotFound(from);
        var target = await LocateAsync(to, cancellationToken).ConfigureAwait(false);
        if (target.Entry is { } there)
        {
            if (!force)
                throw new FerryException(FerryErrorCode.AlreadyExists, $"'{to}' already exists; use --force to replace it.");
            if (there.IsDirectory)
                throw new FerryException(FerryErrorCode.IsADirectory, $"'{to}' is a directory; it is not replaced.");
            if (!await buckets.TryUpdateAsync(target.Key, entry, target.Revision, cancellationToken).ConfigureAwait(false))
                throw Changed(to);
        }
        else if (!await buckets.TryCreateAsync(target.Key, entry, cancellationToken).ConfigureAwait(false))
        {
            throw Changed(to);
        }
        // A folder moves with its id: its whole tree follows in this one write. Until the old name is gone both names
        // show it; the old one goes now, checked against the revision seen, so a concurrent change there is not lost.
        if (!await buckets.TryDeleteAsync(source.Key, source.Revision, cancellationToken).ConfigureAwait(false))
            throw Changed(from);
    }

    public async ValueTask<IStoredFile> OpenReadAsync(string path, CancellationToken cancellationToken)
    {
        var location = await LocateAsync(path, cancellationToken).ConfigureAwait(false);
        var entry = location.Entry ?? throw NotFound(path);
        if (entry.IsDirectory)
            throw new FerryException(FerryErrorCode.IsADirectory, $"'{path}' is a directory; use recursive get (get -r).");
        return new NatsStoredFile(buckets, entry.Parts ?? [], entry.PartSize, entry.Size, FromNs(entry.ModifiedNs), entry.Checksum, entry.Hash);
    }

    public async ValueTask<IUpload> BeginUploadAsync(UploadRequest request, CancellationToken cancellationToken)
    {
        if (request.Path.Length == 0)
            throw new FerryException(FerryErrorCode.IsADirectory, "The root is a directory; name a file.");
        if (request.ConcurrentWrites)
            throw new FerryException(FerryErrorCode.FieldInvalid, "This server's NATS store takes each file over one connection; send it without parallel streams.");
        var target = await LocateAsync(request.Path, cancellationToken).ConfigureAwait(false);
        if (target.Entry is { IsDirectory: true })
            throw new FerryException(FerryErrorCode.IsADirectory, $"'{request.Path}' is a directory.");
        if (target.Exists && !request.Force)
            throw new FerryException(FerryErrorCode.AlreadyExists, $"'{request.Path}' already exists; use --force to replace it.");
        // Room in the quota is taken before any data flows: the file's size less what it replaces.
        var reservation = quotaBytes is { } limit && ledger is not null
            ? await ledger.ReserveAsync(request.Size - (target.Entry?.Size ?? 0), limit, cancellationToken).ConfigureAwait(false)
            : null;
        try
        {
            return await NatsUpload.StartAsync(this, buckets, NatsKeys.Upload(userToken, request.Path), request, reservation, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (reservation is not null)
                await reservation.ReleaseAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Makes a verified object visible under <paramref name="request"/>'s path: one write that creates the name, or
    /// replaces what is there (with force) if it did not change since it was read.
    /// </summary>
    internal async ValueTask PublishAsync(UploadRequest request, IReadOnlyList<string> parts, long partSize, byte[] hash, CancellationToken cancellationToken)
    {
        var target = await LocateAsync(request.Path, cancellationToken).ConfigureAwait(false);
        var entry = new NatsEntry
        {
            Kind = NatsEntry.FileKind,
            Size = request.Size,
            Parts = parts,
            PartSize = partSize,
            Hash = Convert.ToHexStringLower(hash),
            Checksum = request.Checksum.Name,
            Mode = request.Mode is { } mode ? mode & 0x1FF : target.Entry?.Mode ?? DefaultFileMode,
            ModifiedNs = request.ModifiedNs ?? (request.ModifiedTime is { } time ? ToNs(time) : NowNs()),
        };
        if (target.Entry is { } there)
        {
            if (there.IsDirectory)
                throw new FerryException(FerryErrorCode.IsADirectory, $"'{request.Path}' is a directory; '{request.Path}' was not stored.");
            if (!request.Force)
                throw new FerryException(FerryErrorCode.AlreadyExists, $"'{request.Path}' already exists; use --force to replace it.");
            if (!await buckets.TryUpdateAsync(target.Key, entry, target.Revision, cancellationToken).ConfigureAwait(false))
                throw Changed(request.Path);
        }
        else if (!await buckets.TryCreateAsync(target.Key, entry, cancellationToken).ConfigureAwait(false))
        {
            throw Changed(request.Path);
        }
    }

    public async ValueTask SetAttributesAsync(string path, int? mode, long? modifiedNs, CancellationToken cancellationToken)
    {
        var location = await LocateAsync(path, cancellationToken).ConfigureAwait(false);
        var entry = location.Entry ?? throw NotFound(path);
        if (path.Length == 0)
            return; // the root has no key of its own to carry a mode or time
        var changed = entry with { Mode = mode is { } m ? m & 0x1FF : entry.Mode, ModifiedNs = modifiedNs ?? entry.ModifiedNs };
        if (!await buckets.TryUpdateAsync(location.Key, changed, location.Revision, cancellationToken).ConfigureAwait(false))
            throw Changed(path);
    }

    public ValueTask CreateSymlinkAsync(string path, string target, bool force, CancellationToken cancellationToken) =>
        throw new FerryException(FerryErrorCode.FieldInvalid, "This server's NATS store keeps no symbolic links.");

    public async ValueTask ScanAsync(string path, int maxEntries, Func<IStoredFile, CancellationToken, ValueTask<string?>>? hashFile,
        Func<ScanEntry, ValueTask> emit, CancellationToken cancellationToken)
    {
        // The store keeps each file's checksum with its name: a scan with hashes reads no file.
        var count = 0;
        var location = await LocateAsync(path, cancellationToken).ConfigureAwait(false);
        var top = location.Entry ?? throw NotFound(path);
        if (!top.IsDirectory)
        {
            await emit(ScanEntryOf("", top, hashFile is not null)).ConfigureAwait(false);
            return;
        }
        await ScanFolderAsync(top.Id!, "", 0).ConfigureAwait(false);

        async ValueTask ScanFolderAsync(string folderId, string prefix, int depth)
        {
            if (depth > MaxDepth)
                throw new FerryException(FerryErrorCode.FieldInvalid, $"The tree is more than {MaxDepth} folders deep; scan smaller parts.");
            foreach (var (name, child) in await ChildrenAsync(folderId, cancellationToken).ConfigureAwait(false))
            {
                if (++count > maxEntries)
                    throw new FerryException(FerryErrorCode.FieldInvalid, $"The tree has more than {maxEntries} entries; scan smaller parts.");
                var relative = prefix.Length == 0 ? name : $"{prefix}/{name}";
                await emit(ScanEntryOf(relative, child, hashFile is not null)).ConfigureAwait(false);
                if (child.IsDirectory)
                    await ScanFolderAsync(child.Id!, relative, depth + 1).ConfigureAwait(false);
            }
        }
    }

    private static ScanEntry ScanEntryOf(string name, NatsEntry entry, bool withHash) => new()
    {
        Name = name,
        Type = entry.IsDirectory ? ScanEntryTypes.Directory : ScanEntryTypes.File,
        Size = entry.IsDirectory ? 0 : entry.Size,
        ModifiedNs = entry.ModifiedNs,
        Mode = entry.Mode,
        Hash = withHash && !entry.IsDirectory && entry.Checksum == ChecksumAlgorithm.Xxh3Name ? entry.Hash : null,
    };

    public bool IsSymbolicLink(string path) => false;

    public IStoredFile? OpenKeptPart(string path) => null;

    private static StoreEntry ToStoreEntry(string name, NatsEntry entry) =>
        new(name, entry.IsDirectory ? StoreEntryKind.Directory : StoreEntryKind.File, entry.IsDirectory ? 0 : entry.Size, FromNs(entry.ModifiedNs));

    private static FerryException NotFound(string path) =>
        new(FerryErrorCode.NotFound, path.Length == 0 ? "The root does not exist." : $"'{path}' does not exist.");

    /// <summary>Another connection (on this server or another) changed the name between our read and our write.</summary>
    private static FerryException Changed(string path) =>
        new(FerryErrorCode.AlreadyExists, $"'{path}' was changed by another client at the same moment; nothing was changed here. Try again.");

    private static long NowNs() => ToNs(DateTimeOffset.UtcNow);

    private static long ToNs(DateTimeOffset time) => (time - DateTimeOffset.UnixEpoch).Ticks * 100;

    private static DateTimeOffset FromNs(long ns) => DateTimeOffset.UnixEpoch.AddTicks(ns / 100);
}
