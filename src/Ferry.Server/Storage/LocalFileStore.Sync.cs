using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Messages;
using Ferry.Server.Interop;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Server.Storage;

/// <summary>
/// The synchronization operations (docs/protocol.md §5.9): setattr, symlink, scan and the kept part of a delta put. Like
/// the rest of the store, every name is reached beneath the root's descriptor and changed through its held folder.
/// </summary>
internal sealed partial class LocalFileStore
{
    /// <summary>Deepest folder tree a scan descends; deeper is refused rather than walked with a descriptor per level.</summary>
    private const int MaxScanDepth = 1024;

    private const int NonBlocking = 0x800; // O_NONBLOCK: a FIFO planted in the tree cannot hold the server on open
    private const int Eisdir = 21;

    public ValueTask SetAttributesAsync(string path, int? mode, long? modifiedNs, CancellationToken cancellationToken)
    {
        RequireDescriptors();
        Guard(() =>
        {
            if (path.Length == 0)
            {
                using var root = Beneath.OpenRoot(_jail.Root);
                ApplyAttributes(root, mode, modifiedNs, path);
                return 0;
            }
            using var entry = OpenParent(path);
            var folder = entry.Directory!;
            // O_PATH | O_NOFOLLOW: the handle pins whatever the name is now; a link is never followed.
            SafeFileHandle handle;
            try
            {
                handle = Beneath.OpenAt(folder, entry.Name, Libc.OpenPath | Libc.OpenNoFollow, path);
            }
            catch (FileNotFoundException)
            {
                throw NotFound(path);
            }
            using (handle)
            {
                if (Beneath.TypeOf(handle) == Libc.FileTypeLink)
                {
                    // §5.9.5: on a link only the time applies, the link's own (never what it points to).
                    if (modifiedNs is { } ns)
                        SetTimesAt(folder, entry.Name, ns, Libc.AtSymlinkNoFollow, path);
                    return 0;
                }
                ApplyAttributes(handle, mode, modifiedNs, path);
            }
            return 0;
        });
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Sets mode and time on the object <paramref name="handle"/> holds, through its /proc/self/fd name: the kernel resolves
    /// that to the very inode opened, so a name swapped meanwhile changes nothing else.
    /// </summary>
    private static void ApplyAttributes(SafeFileHandle handle, int? mode, long? modifiedNs, string what)
    {
        var self = Beneath.FdPath(handle);
        if (mode is { } bits && !OperatingSystem.IsWindows())
            File.SetUnixFileMode(self, (UnixFileMode)(bits & 0x1FF));
        if (modifiedNs is { } ns)
            SetTimesAt(handle, self, ns, 0, what);
    }

    private static unsafe void SetTimesAt(SafeFileHandle folder, string name, long modifiedNs, int flags, string what)
    {
        var times = Libc.TimesFromNanoseconds(modifiedNs);
        fixed (Libc.Timespec* t = times)
        {
            if (Libc.utimensat(folder, name, t, flags) != 0)
                throw Beneath.Error(Marshal.GetLastPInvokeError(), what);
        }
    }

    public ValueTask CreateSymlinkAsync(string path, string target, bool force, CancellationToken cancellationToken)
    {
        RequireDescriptors();
        if (path.Length == 0)
            throw new FerryException(FerryErrorCode.IsADirectory, "The root is a directory; name the link.");
        CheckLinkTargetSyntax(target);
        Guard(() =>
        {
            using var entry = OpenParent(path);
            var folder = entry.Directory!;
            // Resolved from where the folder really is (the kernel's name for the held descriptor, no links), so a link on
            // the way to the folder cannot make a target look closer to the root than it is.
            CheckLinkTargetStaysInside(RelativeToRoot(entry.DirectoryPath), target, path);
            var existing = Beneath.StatAt(folder, entry.Name);
            if (existing is null)
            {
                if (Libc.symlinkat(target, folder, entry.Name) == 0)
                    return 0;
                var errno = Marshal.GetLastPInvokeError();
                if (errno != Libc.Eexist)
                    throw Beneath.Error(errno, path);
                existing = Beneath.StatAt(folder, entry.Name);
            }
            if (existing is { } st && (st.Mode & Libc.FileTypeMask) == Libc.FileTypeDirectory)
                throw new FerryException(FerryErrorCode.IsADirectory, $"'{path}' is a directory; a link never replaces one.");
            if (!force)
                throw new FerryException(FerryErrorCode.AlreadyExists, $"'{path}' already exists; use force to replace it.");
            ReplaceWithLink(entry, target, path);
            return 0;
        });
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Makes the link under a temporary name in the same folder and renames it over the name: the name is never missing,
    /// and what it named (a file or a link) is replaced, not followed. A directory there makes the rename fail.
    /// </summary>
    private void ReplaceWithLink(JailedEntry entry, string target, string path)
    {
        var folder = entry.Directory!;
        var temporary = PathJail.ReservedPrefix + "link." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        if (Libc.symlinkat(target, folder, temporary) != 0)
            throw Beneath.Error(Marshal.GetLastPInvokeError(), path);
        try
        {
            lock (_namespaceGate)
            {
                var replaced = CountedSize(entry.Path);
                Beneath.Rename(folder, temporary, folder, entry.Name, replace: true, path);
                Quota.Freed(replaced);
            }
        }
        catch (IOException ex) when (ex.HResult is Eisdir or Libc.Enotdir)
        {
            Beneath.Unlink(folder, temporary, directory: false, path, throwIfMissing: false);
            throw new FerryException(FerryErrorCode.IsADirectory, $"'{path}' is a directory; a link never replaces one.");
        }
        catch
        {
            Beneath.Unlink(folder, temporary, directory: false, path, throwIfMissing: false);
            throw;
        }
    }

    /// <summary>§5.9.5: relative, no NUL, not empty; a ".." after a name is refused (that name could be a link).</summary>
    private static void CheckLinkTargetSyntax(string? target)
    {
        if (string.IsNullOrEmpty(target))
            throw new FerryException(FerryErrorCode.PathInvalid, "A link needs a 'target'.");
        if (target.Contains('\0'))
            throw new FerryException(FerryErrorCode.PathInvalid, "A link target must not contain NUL.");
        if (target.StartsWith('/'))
            throw new FerryException(FerryErrorCode.PathInvalid, "A link target must be relative; an absolute one would name something outside your root.");
        if (System.Text.Encoding.UTF8.GetByteCount(target) > PathJail.MaxLocalPathBytes)
            throw new FerryException(FerryErrorCode.PathTooLong, "The link target is too long.");
        var sawName = false;
        foreach (var segment in target.Split('/'))
        {
            if (segment is "" or ".")
                continue;
            if (segment == "..")
            {
                if (sawName)
                    throw new FerryException(FerryErrorCode.PathInvalid,
                        $"The link target '{target}' has '..' after a name; the server cannot tell where that leads if the name is a link.");
                continue;
            }
            sawName = true;
        }
    }

    /// <summary>Resolves <paramref name="target"/> lexically from <paramref name="folder"/> (relative to the root): it must not climb above the root.</summary>
    private static void CheckLinkTargetStaysInside(string folder, string target, string path)
    {
        var depth = folder.Length == 0 ? 0 : folder.Split('/').Length;
        foreach (var segment in target.Split('/'))
        {
            if (segment is "" or ".")
                continue;
            depth += segment == ".." ? -1 : 1;
            if (depth < 0)
                throw new FerryException(FerryErrorCode.PathEscapesRoot, $"The link '{path}' would point outside your root ('{target}').");
        }
    }

    /// <summary>A folder's path under the root ("" for the root) from its full path (<see cref="JailedEntry.DirectoryPath"/>).</summary>
    private string RelativeToRoot(string fullPath)
    {
        var root = _jail.Root.TrimEnd('/');
        if (fullPath.TrimEnd('/') == root)
            return "";
        return fullPath.StartsWith(root + "/", StringComparison.Ordinal)
            ? fullPath[(root.Length + 1)..].Trim('/')
            : throw new FerryException(FerryErrorCode.PathEscapesRoot, "The folder is not under your root.");
    }

    /// <summary>
    /// The tree at <paramref name="path"/> in scan order (§5.9.1), handed to <paramref name="emit"/> one entry at a time:
    /// depth first, a folder before its contents, names in ordinal order, links listed with their target and never
    /// followed, the store's own names hidden. <paramref name="hashFile"/>, when given, hashes a regular file opened for
    /// reading beneath its folder (the same file the scan looked at: a swapped one gets no hash).
    /// </summary>
    public async ValueTask ScanAsync(string path, int maxEntries, Func<IStoredFile, CancellationToken, ValueTask<string?>>? hashFile,
        Func<ScanEntry, ValueTask> emit, CancellationToken cancellationToken)
    {
        RequireDescriptors();
        var handle = Guard(() => TryOpen(path, Libc.OpenPath)) ?? throw NotFound(path);
        using (handle)
        {
            var st = Guard(() => Beneath.StatOf(handle));
            if ((st.Mode & Libc.FileTypeMask) == Libc.FileTypeDirectory)
            {
                var walk = new ScanWalk(maxEntries, hashFile, emit);
                await ScanFolderAsync(handle, "", 0, walk, cancellationToken).ConfigureAwait(false);
                return;
            }
            string? hash = null;
            if ((st.Mode & Libc.FileTypeMask) == Libc.FileTypeRegular && hashFile is not null)
            {
                using var readable = Guard(() => TryOpen(path, Libc.OpenReadOnly | NonBlocking));
                if (readable is not null && Beneath.StatOf(readable) is var now && now.Inode == st.Inode)
                    hash = await hashFile(StoredFileOf(readable, now), cancellationToken).ConfigureAwait(false);
            }
            await emit(ScanEntryOf(st, "", target: null, hash)).ConfigureAwait(false);
        }
    }

    /// <summary>What one scan carries down the tree: its limit, how many entries it gave, the hasher and the receiver.</summary>
    private sealed class ScanWalk(int maxEntries, Func<IStoredFile, CancellationToken, ValueTask<string?>>? hashFile, Func<ScanEntry, ValueTask> emit)
    {
        private int _count;

        public Func<IStoredFile, CancellationToken, ValueTask<string?>>? HashFile { get; } = hashFile;

        public ValueTask EmitAsync(ScanEntry entry)
        {
            if (++_count > maxEntries)
                throw new FerryException(FerryErrorCode.FieldInvalid, $"The tree has more than {maxEntries} entries; scan smaller parts.");
            return emit(entry);
        }
    }

    private async ValueTask ScanFolderAsync(SafeFileHandle folder, string prefix, int depth, ScanWalk walk, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (depth > MaxScanDepth)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"The tree is more than {MaxScanDepth} folders deep; scan smaller parts.");
        var names = Guard(() => Directory.EnumerateFileSystemEntries(Beneath.FdPath(folder))
            .Select(Path.GetFileName)
            .Where(n => n is not null && !n.StartsWith(PathJail.ReservedPrefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList());
        foreach (var name in names)
        {
            if (Guard(() => Beneath.StatAt(folder, name!)) is not { } st)
                continue; // removed since the folder was read
            var relative = prefix.Length == 0 ? name! : $"{prefix}/{name}";
            switch (st.Mode & Libc.FileTypeMask)
            {
                case Libc.FileTypeDirectory:
                    await walk.EmitAsync(ScanEntryOf(st, relative, null, null)).ConfigureAwait(false);
                    SafeFileHandle child;
                    try
                    {
                        child = Beneath.OpenAt(folder, name!, Libc.OpenPath | Libc.OpenDirectory | Libc.OpenNoFollow, relative);
                    }
                    catch (IOException)
                    {
                        continue; // removed, or swapped for a link, since it was looked at: its contents are not walked
                    }
                    using (child)
                        await ScanFolderAsync(child, relative, depth + 1, walk, cancellationToken).ConfigureAwait(false);
                    break;
                case Libc.FileTypeLink:
                    await walk.EmitAsync(ScanEntryOf(st, relative, Libc.ReadLinkAt(folder, name!) ?? "", null)).ConfigureAwait(false);
                    break;
                case Libc.FileTypeRegular:
                    var hash = walk.HashFile is null ? null : await HashAtAsync(folder, name!, st, walk.HashFile, cancellationToken).ConfigureAwait(false);
                    await walk.EmitAsync(ScanEntryOf(st, relative, null, hash)).ConfigureAwait(false);
                    break;
                default:
                    await walk.EmitAsync(new ScanEntry { Name = relative, Type = ScanEntryTypes.Other }).ConfigureAwait(false);
                    break;
            }
        }
    }

    /// <summary>The hash of the regular file <paramref name="name"/>, opened without following a link; null when it cannot be read or was swapped.</summary>
    private static async ValueTask<string?> HashAtAsync(SafeFileHandle folder, string name, Libc.Statx seen,
        Func<IStoredFile, CancellationToken, ValueTask<string?>> hashFile, CancellationToken cancellationToken)
    {
        SafeFileHandle file;
        try
        {
            file = Beneath.OpenAt(folder, name, Libc.OpenReadOnly | Libc.OpenNoFollow | NonBlocking, name);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        using (file)
        {
            var now = Beneath.StatOf(file);
            if ((now.Mode & Libc.FileTypeMask) != Libc.FileTypeRegular || now.Inode != seen.Inode)
                return null;
            try
            {
                return await hashFile(StoredFileOf(file, now), cancellationToken).ConfigureAwait(false);
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// A scanned file as a stored file, with the length and time just read. The caller keeps owning the handle: the view is
    /// not disposed, so it does not close it.
    /// </summary>
    private static LocalStoredFile StoredFileOf(SafeFileHandle file, Libc.Statx st) =>
        new(file, (long)st.Size, DateTimeOffset.FromUnixTimeMilliseconds(0).AddTicks(NanosecondsOf(st.ModifyTime) / 100));

    private static ScanEntry ScanEntryOf(Libc.Statx st, string name, string? target, string? hash)
    {
        var type = (st.Mode & Libc.FileTypeMask) switch
        {
            Libc.FileTypeDirectory => ScanEntryTypes.Directory,
            Libc.FileTypeRegular => ScanEntryTypes.File,
            Libc.FileTypeLink => ScanEntryTypes.Link,
            _ => ScanEntryTypes.Other,
        };
        return new ScanEntry
        {
            Name = name,
            Type = type,
            Size = type == ScanEntryTypes.File ? (long)st.Size : 0,
            ModifiedNs = type == ScanEntryTypes.Other ? 0 : NanosecondsOf(st.ModifyTime),
            Mode = type is ScanEntryTypes.File or ScanEntryTypes.Directory ? st.Mode & 0x1FF : null,
            Target = target,
            Hash = hash,
        };
    }

    internal static long NanosecondsOf(Libc.StatxTimestamp time) => time.Seconds * 1_000_000_000L + time.Nanoseconds;

    /// <summary>
    /// The partial upload this store kept for <paramref name="path"/> (§5.6), open for reading, for a delta put to reuse;
    /// null when there is none (or it is not a regular file).
    /// </summary>
    public IStoredFile? OpenKeptPart(string path)
    {
        if (!_jail.UsesDescriptors || path.Length == 0)
            return null;
        try
        {
            using var entry = OpenParent(path);
            var handle = Beneath.OpenAt(entry.Directory!, LocalUpload.PartNameFor(entry.Name), Libc.OpenReadOnly | Libc.OpenNoFollow | NonBlocking, path);
            if (Beneath.TypeOf(handle) == Libc.FileTypeRegular)
                return new LocalStoredFile(handle);
            handle.Dispose();
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FerryException)
        {
            return null;
        }
    }

    public bool IsSymbolicLink(string path)
    {
        if (path.Length == 0)
            return false;
        if (!_jail.UsesDescriptors)
            return new FileInfo(_jail.Resolve(path)).LinkTarget is not null;
        try
        {
            using var entry = OpenParent(path);
            return Beneath.StatAt(entry.Directory!, entry.Name) is { } st && (st.Mode & Libc.FileTypeMask) == Libc.FileTypeLink;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FerryException)
        {
            return false;
        }
    }

    private void RequireDescriptors()
    {
        if (!_jail.UsesDescriptors)
            throw new FerryException(FerryErrorCode.IoError, "This server's system cannot open files beneath a folder's descriptor; the sync commands need Linux.");
    }
}
