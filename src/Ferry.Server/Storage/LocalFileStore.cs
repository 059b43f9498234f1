using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Messages;
using Ferry.Server.Interop;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Server.Storage;

/// <summary>
/// Files in a folder of the local file system. On Linux every file and folder is opened beneath a descriptor of the root
/// and changed through the descriptor of its folder (<see cref="PathJail"/>, <see cref="JailedEntry"/>), so nothing
/// that changes between a check and a use can lead outside the root.
/// </summary>
internal sealed partial class LocalFileStore : IFileStore, ILocalFolderStore
{
    private readonly PathJail _jail;
    private readonly UploadRegistry _uploads;

    /// <summary>
    /// Held while a change that moves the quota is measured and made (commit, mv, rm), so that what is measured is what
    /// is replaced or removed.
    /// </summary>
    private readonly object _namespaceGate = new();

    /// <summary>Whether the usage on disk was measured (it is only needed, and only paid for, once there is a limit).</summary>
    private bool _measured;

    public LocalFileStore(string root, long? quotaBytes = null, DataOwnership? ownership = null)
        : this(root, quotaBytes, new UploadRegistry(OpenFileLimit.DefaultMaxOpenUploads, OpenFileLimit.DefaultMaxOpenUploadsPerUser), ownership)
    {
    }

    /// <param name="uploads">The server's registry of part files, shared by all its stores.</param>
    /// <param name="ownership">Owner and permissions of what the store creates (owner-only by default).</param>
    internal LocalFileStore(string root, long? quotaBytes, UploadRegistry uploads, DataOwnership? ownership = null)
    {
        Ownership = ownership ?? DataOwnership.Private;
        Ownership.CreateDirectory(root);
        _jail = new PathJail(root);
        _uploads = uploads;
        ConfiguredRoot = root;
        Quota = new QuotaTracker(quotaBytes, 0);
        if (quotaBytes is not null)
            MeasureOnce();
    }

    public string Description => _jail.Root;
    public string RootPath => _jail.Root;

    /// <summary>The root as it was given (before links were resolved), to recognise the same home again.</summary>
    internal string ConfiguredRoot { get; }

    /// <summary>The one tracker of this store for its whole life; a new limit is set on it (<see cref="UpdateQuota"/>).</summary>
    public QuotaTracker Quota { get; }

    /// <summary>Uploads open in this store; changed only under the <see cref="UploadRegistry"/>'s lock.</summary>
    internal int OpenUploads { get; set; }

    internal PathJail Jail => _jail;

    /// <summary>Applies a changed quota (the users file was reloaded), keeping every reservation and kept part counted.</summary>
    internal void UpdateQuota(long? quotaBytes)
    {
        if (quotaBytes is not null)
            MeasureOnce();
        Quota.SetLimit(quotaBytes);
    }

    /// <summary>Measures the files under the root and counts the partial uploads lying there, the first time a limit applies.</summary>
    private void MeasureOnce()
    {
        lock (_namespaceGate)
        {
            if (_measured)
                return;
            var (used, parts) = MeasureUsageAndParts(_jail.Root);
            Quota.SetUsed(used);
            foreach (var (part, bytes) in parts)
                _uploads.Adopt(part, this, bytes);
            _measured = true;
        }
    }

    /// <summary>Owner and permissions of what the store creates.</summary>
    public DataOwnership Ownership { get; }

    public ValueTask<StoreEntry?> StatAsync(string path, CancellationToken cancellationToken)
    {
        var name = path.Length == 0 ? "" : RemotePath.FileName(path);
        if (!_jail.UsesDescriptors)
        {
            var full = _jail.Resolve(path);
            return ValueTask.FromResult(Guard(() => Entry(full, name)));
        }
        return ValueTask.FromResult(Guard(() =>
        {
            using var handle = TryOpen(path, Libc.OpenPath);
            return handle is null ? null : EntryOf(Beneath.StatOf(handle), name);
        }));
    }

    /// <summary>Opens <paramref name="path"/> beneath the root following links inside it; null when nothing is there.</summary>
    private SafeFileHandle? TryOpen(string path, int flags)
    {
        try
        {
            return _jail.Open(path, flags);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (IOException ex) when (ex.HResult == Libc.Enotdir)
        {
            return null; // a file on the way: nothing is there
        }
    }

    /// <summary>
    /// The folder that holds <paramref name="path"/>, open, with the last name not followed; a missing folder on the
    /// way is not_found, a file there not_a_directory.
    /// </summary>
    private JailedEntry OpenParent(string path)
    {
        try
        {
            return Guard(() => _jail.OpenEntry(path));
        }
        catch (FerryException ex) when (ex.Code is FerryErrorCode.NotFound or FerryErrorCode.IoError && ex.InnerException is IOException io
            && (io is FileNotFoundException || io.HResult == Libc.Enotdir))
        {
            var parent = RemotePath.Parent(path);
            if (io is FileNotFoundException)
                throw NotFound(parent);
            using var found = TryOpen(parent, Libc.OpenPath);
            throw found is not null ? NotADirectory(parent) : NotFound(parent);
        }
    }

    public ValueTask<IReadOnlyList<StoreEntry>> ListAsync(string path, bool recursive, CancellationToken cancellationToken)
    {
        if (_jail.UsesDescriptors)
        {
            return ValueTask.FromResult(Guard<IReadOnlyList<StoreEntry>>(() =>
            {
                using var handle = TryOpen(path, Libc.OpenPath) ?? throw NotFound(path);
                var st = Beneath.StatOf(handle);
                if ((st.Mode & Libc.FileTypeMask) != Libc.FileTypeDirectory)
                    return [EntryOf(st, RemotePath.FileName(path))];
                var entries = new List<StoreEntry>();
                AddEntries(handle, path, "", recursive, entries, cancellationToken);
                return entries;
            }));
        }
        var full = _jail.Resolve(path);
        return ValueTask.FromResult(Guard<IReadOnlyList<StoreEntry>>(() =>
        {
            if (File.Exists(full))
                return [Entry(full, RemotePath.FileName(path))!];
            if (!Directory.Exists(full))
                throw NotFound(path);
            var entries = new List<StoreEntry>();
            AddEntries(new DirectoryInfo(full), "", recursive, entries, cancellationToken);
            return entries;
        }));
    }

    private void AddEntries(DirectoryInfo directory, string prefix, bool recursive, List<StoreEntry> into, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var children = directory.EnumerateFileSystemInfos()
            .Where(i => !i.Name.StartsWith(PathJail.ReservedPrefix, StringComparison.Ordinal))
            .OrderBy(i => i.Name, StringComparer.Ordinal);
        foreach (var child in children)
        {
            var isLink = child.LinkTarget is not null;
            if (isLink && !_jail.LinkStaysInside(child))
                continue; // a link out of the root does not exist as far as the client is concerned
            var name = prefix.Length == 0 ? child.Name : $"{prefix}/{child.Name}";
            var entry = Entry(child.FullName, name);
            if (entry is null)
                continue;
            into.Add(entry);
            if (recursive && entry.Kind == StoreEntryKind.Directory)
                AddEntries(new DirectoryInfo(child.FullName), name, recursive, into, cancellationToken);
        }
    }

    /// <summary>
    /// The entries of the open folder <paramref name="folder"/> (at <paramref name="folderPath"/> under the root). A link
    /// is resolved beneath the root like any request (one out of the root is not listed, one to nothing is a "link");
    /// anything else is opened relative to the folder without following it.
    /// </summary>
    private void AddEntries(SafeFileHandle folder, string folderPath, string prefix, bool recursive, List<StoreEntry> into, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var children = new DirectoryInfo(Beneath.FdPath(folder)).EnumerateFileSystemInfos()
            .Where(i => !i.Name.StartsWith(PathJail.ReservedPrefix, StringComparison.Ordinal))
            .OrderBy(i => i.Name, StringComparer.Ordinal)
            .ToList();
        foreach (var child in children)
        {
            var remote = folderPath.Length == 0 ? child.Name : $"{folderPath}/{child.Name}";
            var name = prefix.Length == 0 ? child.Name : $"{prefix}/{child.Name}";
            SafeFileHandle? handle;
            if (child.Attributes.HasFlag(FileAttributes.ReparsePoint))
            {
                try
                {
                    handle = TryOpen(remote, Libc.OpenPath);
                }
                catch (FerryException ex) when (ex.Code == FerryErrorCode.PathEscapesRoot)
                {
                    continue; // a link out of the root does not exist as far as the client is concerned
                }
                catch (IOException)
                {
                    handle = null; // a loop: shown as a link, like one to nothing
                }
                if (handle is null)
                {
                    into.Add(new StoreEntry(name, StoreEntryKind.Link, 0, child.LastWriteTimeUtc));
                    continue;
                }
            }
            else
            {
                try
                {
                    handle = Beneath.OpenAt(folder, child.Name, Libc.OpenPath | Libc.OpenNoFollow, remote);
                }
                catch (FileNotFoundException)
                {
                    continue; // removed since the folder was read
                }
            }
            using (handle)
            {
                var st = Beneath.StatOf(handle);
                if ((st.Mode & Libc.FileTypeMask) == Libc.FileTypeLink)
                    continue; // swapped for a link since the folder was read; the next listing shows it
                var entry = EntryOf(st, name);
                into.Add(entry);
                if (recursive && entry.Kind == StoreEntryKind.Directory)
                    AddEntries(handle, remote, name, recursive, into, cancellationToken);
            }
        }
    }

    private static StoreEntry EntryOf(Libc.Statx st, string name)
    {
        var isDirectory = (st.Mode & Libc.FileTypeMask) == Libc.FileTypeDirectory;
        return new StoreEntry(name, isDirectory ? StoreEntryKind.Directory : StoreEntryKind.File, isDirectory ? 0 : (long)st.Size,
            DateTimeOffset.UnixEpoch.AddTicks(NanosecondsOf(st.ModifyTime) / 100));
    }

    public ValueTask CreateDirectoryAsync(string path, bool parents, CancellationToken cancellationToken)
    {
        if (path.Length == 0)
        {
            if (parents)
                return ValueTask.CompletedTask;
            throw new FerryException(FerryErrorCode.AlreadyExists, "The root already exists.");
        }
        if (_jail.UsesDescriptors)
        {
            if (parents)
                Guard(() => CreateEachLevel(path));
            else
                CreateOne(path);
            return ValueTask.CompletedTask;
        }
        if (parents)
        {
            // Resolve each level so that no link on the way leads out, then create what is missing: one walk down.
            foreach (var (so, level) in _jail.ResolveEachLevel(path))
            {
                if (File.Exists(level))
                    throw new FerryException(FerryErrorCode.NotADirectory, $"'{so}' is a file, not a directory.");
                if (!Directory.Exists(level))
                    Guard(() => Ownership.CreateDirectory(level));
            }
            return ValueTask.CompletedTask;
        }

        var full = _jail.Resolve(path);
        var parent = _jail.Resolve(RemotePath.Parent(path));
        if (File.Exists(full) || Directory.Exists(full))
            throw new FerryException(FerryErrorCode.AlreadyExists, $"'{path}' already exists.");
        if (!Directory.Exists(parent))
            throw File.Exists(parent) ? NotADirectory(RemotePath.Parent(path)) : NotFound(RemotePath.Parent(path));
        Guard(() => Ownership.CreateDirectory(full));
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// mkdir -p in one walk down: each level is opened relative to the one above without following a link (a folder:
    /// go on), created there when missing (mkdirat), or, when it is a link, resolved beneath the root like any path.
    /// </summary>
    private int CreateEachLevel(string path)
    {
        _jail.CheckLimits(path);
        using var root = Beneath.OpenRoot(_jail.Root);
        SafeFileHandle? current = null;
        try
        {
            var prefix = "";
            foreach (var segment in path.Split('/'))
            {
                _jail.CountLevel();
                PathJail.CheckName(segment);
                prefix = prefix.Length == 0 ? segment : $"{prefix}/{segment}";
                var at = current ?? root;
                var next = TryOpenFolderAt(at, segment)
                    ?? Ownership.CreateDirectoryAt(at, segment, prefix)
                    ?? TryOpenFolderAt(at, segment); // made meanwhile by someone else
                if (next is null)
                {
                    // A link (followed while it stays inside) or a file.
                    try
                    {
                        next = _jail.Open(prefix, Libc.OpenPath | Libc.OpenDirectory);
                    }
                    catch (FileNotFoundException)
                    {
                        throw NotFound(prefix);
                    }
                    catch (IOException ex) when (ex.HResult == Libc.Enotdir)
                    {
                        throw NotADirectory(prefix);
                    }
                }
                current?.Dispose();
                current = next;
            }
            return 0;
        }
        finally
        {
            current?.Dispose();
        }
    }

    /// <summary>The folder <paramref name="name"/> of <paramref name="parent"/>, not followed if it is a link; null when it is not a folder or is missing.</summary>
    private static SafeFileHandle? TryOpenFolderAt(SafeFileHandle parent, string name)
    {
        try
        {
            return Beneath.OpenAt(parent, name, Libc.OpenPath | Libc.OpenDirectory | Libc.OpenNoFollow, name);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (IOException ex) when (ex.HResult is Libc.Enotdir or Libc.Eloop)
        {
            return null;
        }
    }

    private void CreateOne(string path)
    {
        using var entry = OpenParent(path);
        using var made = Guard(() => Ownership.CreateDirectoryAt(entry.Directory!, entry.Name, path))
            ?? throw new FerryException(FerryErrorCode.AlreadyExists, $"'{path}' already exists.");
    }

    public ValueTask DeleteAsync(string path, bool recursive, CancellationToken cancellationToken)
    {
        if (path.Length == 0)
            throw new FerryException(FerryErrorCode.PathInvalid, "The root cannot be removed.");
        // Resolve the parent, not the entry: removing a link removes the link, never what it points to.
        using var entry = OpenParent(path);
        var full = entry.Path;
        lock (_namespaceGate)
        Guard(() =>
        {
            var info = new FileInfo(full);
            if (info.LinkTarget is not null || File.Exists(full))
            {
                var size = info.LinkTarget is null ? info.Length : 0;
                File.Delete(full);
                Quota.Freed(size);
                return 0;
            }
            if (!Directory.Exists(full))
                throw NotFound(path);
            if (!recursive && Directory.EnumerateFileSystemEntries(full).Any())
                throw new FerryException(FerryErrorCode.DirectoryNotEmpty, $"'{path}' is not empty; use recursive removal (rm -r).");
            if (recursive && entry.Directory is { } folder)
            {
                // Descriptor by descriptor, never by a path a swapped-in link could redirect.
                long freed = 0;
                try
                {
                    Beneath.RemoveTree(folder, entry.Name, path, ref freed);
                }
                finally
                {
                    Quota.Freed(freed);
                }
                _uploads.ForgetKeptUnder(entry.FullPath);
                return 0;
            }
            var size2 = recursive ? MeasureUsage(full) : 0;
            Directory.Delete(full, recursive);
            Quota.Freed(size2);
            if (recursive)
                _uploads.ForgetKeptUnder(entry.FullPath);
            return 0;
        });
        return ValueTask.CompletedTask;
    }

    public ValueTask MoveAsync(string from, string to, bool force, CancellationToken cancellationToken)
    {
        if (from.Length == 0 || to.Length == 0)
            throw new FerryException(FerryErrorCode.PathInvalid, "The root cannot be moved or replaced.");
        using var sourceEntry = OpenParent(from);
        using var targetEntry = OpenParent(to);
        var source = sourceEntry.Path;
        var target = targetEntry.Path;
        var targetParent = targetEntry.CallPath;
        lock (_namespaceGate)
        Guard(() =>
        {
            var sourceIsDir = Directory.Exists(source) && new FileInfo(source).LinkTarget is null;
            if (!sourceIsDir && !File.Exists(source) && new FileInfo(source).LinkTarget is null)
                throw NotFound(from);
            if (!Directory.Exists(targetParent))
                throw NotFound(RemotePath.Parent(to));
            if (Directory.Exists(target))
                throw new FerryException(FerryErrorCode.AlreadyExists, $"'{to}' is an existing directory.");
            if (sourceIsDir && (to + "/").StartsWith(from + "/", StringComparison.Ordinal))
                throw new FerryException(FerryErrorCode.PathInvalid, $"'{from}' cannot be moved inside itself.");
            var replaced = CountedSize(target);
            if (File.Exists(target) && !force)
                throw new FerryException(FerryErrorCode.AlreadyExists, $"'{to}' already exists; use --force to replace it.");
            if (sourceIsDir)
            {
                if (File.Exists(target))
                    throw new FerryException(FerryErrorCode.NotADirectory, $"'{to}' is a file; a directory cannot replace it.");
                Rename(sourceEntry, sourceEntry.Name, targetEntry, replace: false, directory: true, to);
            }
            else
            {
                Rename(sourceEntry, sourceEntry.Name, targetEntry, replace: force, directory: false, to);
                Quota.Freed(replaced);
            }
            return 0;
        });
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Renames <paramref name="name"/> in <paramref name="from"/>'s folder to <paramref name="to"/>: renameat2 between
    /// the two open folders (RENAME_NOREPLACE unless <paramref name="replace"/>); by path where there are no descriptors.
    /// </summary>
    private static void Rename(JailedEntry from, string name, JailedEntry to, bool replace, bool directory, string what)
    {
        if (from.Directory is { } fromFolder && to.Directory is { } toFolder)
        {
            try
            {
                Beneath.Rename(fromFolder, name, toFolder, to.Name, replace, what);
            }
            catch (IOException ex) when (ex.HResult == Libc.Eexist)
            {
                throw new FerryException(FerryErrorCode.AlreadyExists, $"'{what}' already exists.");
            }
            return;
        }
        if (directory)
            Directory.Move(from.PathOf(name), to.Path);
        else
            File.Move(from.PathOf(name), to.Path, replace);
    }

    public ValueTask<IStoredFile> OpenReadAsync(string path, CancellationToken cancellationToken)
    {
        if (_jail.UsesDescriptors)
            return ValueTask.FromResult(Guard(() => OpenStoredFile(path)));
        var full = _jail.Resolve(path);
        return ValueTask.FromResult(Guard<IStoredFile>(() =>
        {
            if (Directory.Exists(full))
                throw new FerryException(FerryErrorCode.IsADirectory, $"'{path}' is a directory; use recursive get (get -r).");
            if (!File.Exists(full))
                throw NotFound(path);
            return new LocalStoredFile(full);
        }));
    }

    /// <summary>
    /// Opens a file to send with openat2 beneath the root (O_NONBLOCK, so that a FIFO planted there cannot hold the
    /// server; it is refused like anything that is not a regular file).
    /// </summary>
    private IStoredFile OpenStoredFile(string path)
    {
        const int NonBlocking = 0x800; // O_NONBLOCK: no effect on the reads of a regular file
        var handle = TryOpen(path, Libc.OpenReadOnly | NonBlocking) ?? throw NotFound(path);
        try
        {
            var type = Beneath.TypeOf(handle);
            if (type == Libc.FileTypeDirectory)
                throw new FerryException(FerryErrorCode.IsADirectory, $"'{path}' is a directory; use recursive get (get -r).");
            if (type != Libc.FileTypeRegular)
                throw new FerryException(FerryErrorCode.IoError, $"'{path}' is not a regular file; only regular files can be downloaded.");
            return new LocalStoredFile(handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public ValueTask<IUpload> BeginUploadAsync(UploadRequest request, CancellationToken cancellationToken)
    {
        var path = request.Path;
        if (path.Length == 0)
            throw new FerryException(FerryErrorCode.IsADirectory, "The root is a directory; name a file.");
        // The upload holds its folder open to the end: the part file is made, and later renamed to the name, in the folder
        // checked now, whatever is swapped above it meanwhile. A link at the name is replaced, never written through.
        var entry = OpenParent(path);
        try
        {
            var (isDirectory, exists, replaced) = Inspect(entry, path);
            if (isDirectory)
                throw new FerryException(FerryErrorCode.IsADirectory, $"'{path}' is a directory.");
            // Counted now to refuse early; the commit measures again what it really replaces (mv may have moved it away).
            if (exists && !request.Force)
                throw new FerryException(FerryErrorCode.AlreadyExists, $"'{path}' already exists; use --force to replace it.");
            var partName = LocalUpload.PartNameFor(entry.Name);
            var part = entry.FullPathOf(partName);
            BeginWithinQuota(part, path, request.Size, replaced);
            try
            {
                return ValueTask.FromResult<IUpload>(Guard(() => LocalUpload.Open(this, request, entry, partName, part)));
            }
            catch
            {
                UploadEnded(part, keepForResume: true);
                Quota.Release(request.Size);
                throw;
            }
        }
        catch
        {
            entry.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Registers the upload and reserves its bytes. Over quota, partial uploads this store keeps for resume are deleted,
    /// oldest first, as far as that makes room: an abandoned upload must not hold a user's space for a whole TTL.
    /// </summary>
    private void BeginWithinQuota(string part, string path, long size, long replaced)
    {
        try
        {
            _uploads.Begin(this, part, path, size, replaced);
            return;
        }
        catch (FerryException ex) when (ex.Code == FerryErrorCode.QuotaExceeded && Quota.KeptBytes > 0)
        {
            var oldestFirst = _uploads.KeptBy(Quota)
                .Where(kept => kept != part)
                .OrderBy(kept => File.GetLastWriteTimeUtc(kept))
                .ToList();
            foreach (var kept in oldestFirst)
            {
                if (Quota.WouldFit(size, replaced))
                    break;
                TryDeleteIdlePart(kept, _ => true);
            }
        }
        _uploads.Begin(this, part, path, size, replaced);
    }

    /// <summary>An upload ended; a part kept for resume goes on counting against the quota with the bytes it holds.</summary>
    internal void UploadEnded(string part, bool keepForResume)
    {
        long? kept = null;
        if (keepForResume)
        {
            var info = new FileInfo(part);
            kept = info.Exists ? info.Length : null;
        }
        _uploads.End(this, part, kept);
    }

    /// <summary>
    /// Moves a verified part file to its target, after checking the quota against what the target holds at this moment:
    /// the size measured when the upload began may have been moved away since.
    /// </summary>
    internal void CommitPart(JailedEntry target, string partName, string path, long size, bool force)
    {
        lock (_namespaceGate)
        {
            // Before the store was ever measured there is no limit and the usage counted is not used: the first
            // measurement (under this same lock) reads the disk. Without force and without a limit the size only feeds
            // the usage of a commit that succeeds, and then it is 0: the rename refuses an existing target
            // (RENAME_NOREPLACE, or linkat). Only otherwise is the target measured again.
            var replaced = _measured && (force || Quota.LimitBytes is not null) ? CountedSize(target) : 0;
            try
            {
                Quota.CheckCommit(size, replaced);
            }
            catch (FerryException ex)
            {
                throw new FerryException(ex.Code, $"{ex.Message} '{path}' was not stored.");
            }
            if (target.Directory is { } folder)
                Beneath.Rename(folder, partName, folder, target.Name, replace: force, path); // EEXIST (an IOException) without force
            else
                File.Move(target.PathOf(partName), target.Path, overwrite: force);
            Quota.Commit(size, replaced);
        }
    }

    /// <summary>
    /// What an upload's target is now: a folder (refused), something there (a file, or a link, counted as there the way
    /// <see cref="File.Exists(string)"/> counts it), and the bytes it counts for in the quota. One statx relative to the
    /// open folder; only a link at the name takes the longer way, which refuses a link out of the root as anywhere.
    /// </summary>
    private (bool IsDirectory, bool Exists, long CountedSize) Inspect(JailedEntry entry, string path)
    {
        if (entry.Directory is { } folder)
        {
            var st = Beneath.StatAt(folder, entry.Name);
            var type = st is { } found ? found.Mode & Libc.FileTypeMask : 0;
            if (type != Libc.FileTypeLink)
                return (type == Libc.FileTypeDirectory, st is not null, type == Libc.FileTypeRegular ? (long)st!.Value.Size : 0);
            Guard(() => { using var _ = TryOpen(path, Libc.OpenPath); return 0; });
        }
        var target = entry.Path;
        return (Directory.Exists(target), File.Exists(target), CountedSize(target));
    }

    /// <summary>The bytes an entry counts for in the quota: a regular file's length; links and directories count 0.</summary>
    private static long CountedSize(JailedEntry entry)
    {
        if (entry.Directory is not { } folder)
            return CountedSize(entry.Path);
        return Beneath.StatAt(folder, entry.Name) is { } st && (st.Mode & Libc.FileTypeMask) == Libc.FileTypeRegular ? (long)st.Size : 0;
    }

    /// <summary>The bytes a name counts for in the quota: a regular file's length; links and directories count 0.</summary>
    private static long CountedSize(string fullPath)
    {
        var info = new FileInfo(fullPath);
        return info.Exists && info.LinkTarget is null ? info.Length : 0;
    }

    public string LocalFolder(string path)
    {
        if (!_jail.UsesDescriptors)
            return _jail.Resolve(path);
        // Where the folder is once resolved beneath the root. The command's sandbox changes into it by path, but in the
        // sandbox only the home is writable, so a link swapped in afterwards leads nowhere the command could not go.
        using var folder = TryOpen(path, Libc.OpenPath | Libc.OpenDirectory);
        return folder is null ? Path.Join(_jail.Root, path) : _jail.PathOf(folder); // missing: the caller says not_found
    }

    /// <summary>
    /// Deletes the partial uploads under <paramref name="folder"/> last written before <paramref name="cutoff"/>, except
    /// those of an upload in progress in any store of the server (<paramref name="uploads"/>); returns how many.
    /// </summary>
    internal static int SweepPartialUploads(string folder, DateTimeOffset cutoff, UploadRegistry uploads)
    {
        if (!Directory.Exists(folder))
            return 0;
        var removed = 0;
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        // Parts with or without a .meta file, and .meta files whose part is gone.
        foreach (var file in Directory.EnumerateFiles(folder, LocalUpload.PartPrefix + "*", options))
        {
            var isMeta = file.EndsWith(LocalUpload.MetaSuffix, StringComparison.Ordinal);
            var part = isMeta ? file[..^LocalUpload.MetaSuffix.Length] : file;
            if (isMeta && File.Exists(part))
                continue; // handled with its part
            if (TryDeleteIdlePart(uploads, part, folder, _ => File.GetLastWriteTimeUtc(file) < cutoff.UtcDateTime))
                removed++;
        }
        return removed;
    }

    private bool TryDeleteIdlePart(string part, Func<string, bool> shouldDelete) => TryDeleteIdlePart(_uploads, part, _jail.Root, shouldDelete);

    private static bool TryDeleteIdlePart(UploadRegistry uploads, string part, string folder, Func<string, bool> shouldDelete)
    {
        try
        {
            return uploads.TryDeleteIdle(part, folder, shouldDelete);
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>Bytes of the files under <paramref name="directory"/>, and the partial uploads (part files) with their lengths.</summary>
    private static (long Used, List<(string Part, long Bytes)> Parts) MeasureUsageAndParts(string directory)
    {
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        long used = 0;
        var parts = new List<(string, long)>();
        foreach (var file in new DirectoryInfo(directory).EnumerateFiles("*", options))
        {
            if (!file.Name.StartsWith(PathJail.ReservedPrefix, StringComparison.Ordinal))
                used += file.Length;
            else if (file.Name.StartsWith(LocalUpload.PartPrefix, StringComparison.Ordinal) && !file.Name.EndsWith(LocalUpload.MetaSuffix, StringComparison.Ordinal))
                parts.Add((file.FullName, file.Length));
        }
        return (used, parts);
    }

    private static long MeasureUsage(string directory)
    {
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        return new DirectoryInfo(directory).EnumerateFiles("*", options)
            .Where(f => !f.Name.StartsWith(PathJail.ReservedPrefix, StringComparison.Ordinal))
            .Sum(f => f.Length);
    }

    private static StoreEntry? Entry(string fullPath, string name)
    {
        var info = new FileInfo(fullPath);
        if (info.LinkTarget is not null)
        {
            var target = info.ResolveLinkTarget(returnFinalTarget: true);
            if (target is null || !target.Exists)
                return new StoreEntry(name, StoreEntryKind.Link, 0, info.LastWriteTimeUtc);
            return new StoreEntry(name, target is DirectoryInfo ? StoreEntryKind.Directory : StoreEntryKind.File, target is FileInfo f ? f.Length : 0,
                target.LastWriteTimeUtc);
        }
        if (info.Exists)
            return new StoreEntry(name, StoreEntryKind.File, info.Length, info.LastWriteTimeUtc);
        var dir = new DirectoryInfo(fullPath);
        if (dir.Exists)
            return new StoreEntry(name, StoreEntryKind.Directory, 0, dir.LastWriteTimeUtc);
        return null;
    }

    internal static FerryException NotFound(string path) =>
        new(FerryErrorCode.NotFound, path.Length == 0 ? "The root does not exist." : $"'{path}' does not exist.");

    private static FerryException NotADirectory(string path) => new(FerryErrorCode.NotADirectory, $"'{path}' is a file, not a directory.");

    /// <summary>Runs a file-system operation and maps OS errors to Ferry codes.</summary>
    internal static T Guard<T>(Func<T> operation)
    {
        try
        {
            return operation();
        }
        catch (Exception ex) when (StorageErrors.TryMap(ex, out var mapped))
        {
            throw mapped;
        }
    }
}
