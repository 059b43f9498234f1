using System.Runtime.InteropServices;
using System.Text;
using Ferry.Protocol.Errors;
using Ferry.Server.Interop;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Server.Storage;

/// <summary>
/// Opens names beneath a root folder's descriptor, so that the kernel refuses a way out at the moment of use rather than
/// a check made earlier on a path string (which a local user or a command could race by swapping a folder for a link):
/// openat2 with RESOLVE_BENEATH where the kernel has it, else a walk one name at a time with openat and O_NOFOLLOW that
/// follows each link itself. Linux only; <see cref="PathJail"/> keeps the string checks on other systems.
/// </summary>
internal static unsafe class Beneath
{
    /// <summary>The kernel's own limit of links followed in one resolution.</summary>
    private const int MaxLinks = 40;

    /// <summary>Deepest folder tree <see cref="RemoveTree"/> descends (one descriptor per level is held on the way).</summary>
    private const int MaxRemoveDepth = 1024;

    /// <summary>Set once the kernel answered ENOSYS (before 5.6) or the architecture's syscall number is not known.</summary>
    private static bool s_openat2Missing = RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64);

    public static bool IsSupported => OperatingSystem.IsLinux();

    public static SafeFileHandle OpenRoot(string root)
    {
        var fd = Libc.open(root, Libc.OpenPath | Libc.OpenDirectory | Libc.CloseOnExec);
        return fd >= 0 ? Own(fd) : throw Error(Marshal.GetLastPInvokeError(), root);
    }

    /// <summary>
    /// Opens <paramref name="relative"/> (normalized; "" is the root itself) beneath <paramref name="root"/>, whose path
    /// is <paramref name="rootPath"/> (absolute links into it are followed from it). Links are followed while they stay
    /// beneath the root, the last name's only with <paramref name="followLast"/>; one that leaves is
    /// <c>path_escapes_root</c>. <paramref name="walkOnly"/> skips openat2 (as on a kernel without it).
    /// </summary>
    public static SafeFileHandle Open(SafeFileHandle root, string rootPath, string relative, int flags, bool followLast, bool walkOnly = false)
    {
        flags |= Libc.CloseOnExec;
        if (!followLast)
            flags |= Libc.OpenNoFollow;
        if (!walkOnly && !Volatile.Read(ref s_openat2Missing))
        {
            var fd = Openat2(root, relative.Length == 0 ? "." : relative, flags);
            if (fd >= 0)
                return Own(fd);
            var errno = Marshal.GetLastPInvokeError();
            switch (errno)
            {
                case Libc.Enosys:
                    Volatile.Write(ref s_openat2Missing, true);
                    break;
                case Libc.Exdev or Libc.Eloop or Libc.Eagain:
                    // An absolute link (RESOLVE_BENEATH refuses them all, even into the root), a link out, a loop, or a
                    // rename during the lookup: the walk tells which, and follows an absolute link that stays inside.
                    break;
                case Libc.Eperm:
                    // EPERM: what a seccomp filter of some container runtimes answers for a call it does not know; the
                    // walk's openat gives the real answer if it was the file's own.
                    break;
                default:
                    throw Error(errno, relative);
            }
        }
        return Walk(root, rootPath, relative, flags, followLast);
    }

    private static int Openat2(SafeFileHandle directory, string path, int flags)
    {
        var how = new Libc.OpenHow { Flags = (uint)flags, Mode = 0, Resolve = Libc.ResolveBeneath | Libc.ResolveNoMagicLinks };
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
            return (int)Libc.syscall(Libc.SysOpenat2, directory, p, &how, (nuint)sizeof(Libc.OpenHow));
    }

    /// <summary>
    /// The walk without openat2: every name is opened relative to the folder before it with O_NOFOLLOW, and a link is
    /// read through its own descriptor and its target walked the same way (from the root when absolute). Only the
    /// names of the current folder are kept, so ".." goes back along the way it came and never above the root.
    /// </summary>
    private static SafeFileHandle Walk(SafeFileHandle root, string rootPath, string relative, int flags, bool followLast)
    {
        var pending = new Stack<string>();
        Push(pending, relative);
        var names = new List<string>();
        SafeFileHandle? current = null; // null: the root itself
        var links = 0;
        try
        {
            while (pending.Count > 0)
            {
                var name = pending.Pop();
                if (name == "..")
                {
                    if (names.Count == 0)
                        throw Escapes(relative);
                    names.RemoveAt(names.Count - 1);
                    Replace(ref current, Reopen(root, names, relative));
                    continue;
                }
                var at = current ?? root;
                var last = pending.Count == 0;
                if (last && !followLast)
                    return OpenAt(at, name, flags, relative);

                var probe = OpenAt(at, name, Libc.OpenPath | Libc.OpenNoFollow | Libc.CloseOnExec, relative);
                ushort type;
                try
                {
                    type = TypeOf(probe);
                }
                catch
                {
                    probe.Dispose();
                    throw;
                }
                if (type == Libc.FileTypeLink)
                {
                    string target;
                    using (probe)
                        target = ReadLink(probe, relative);
                    if (++links > MaxLinks)
                        throw Error(Libc.Eloop, relative);
                    if (target.StartsWith('/'))
                    {
                        if (!IsUnder(target, rootPath))
                            throw Escapes(relative);
                        names.Clear();
                        Replace(ref current, null);
                        target = rootPath == "/" ? target : target[rootPath.Length..];
                    }
                    Push(pending, target);
                    continue;
                }
                if (last)
                {
                    probe.Dispose();
                    try
                    {
                        // O_NOFOLLOW: if a link was swapped in since the probe, this fails instead of following it...
                        return OpenAt(at, name, flags | Libc.OpenNoFollow, relative);
                    }
                    catch (IOException ex) when ((ex.HResult == Libc.Eloop || (ex.HResult == Libc.Enotdir && type == Libc.FileTypeDirectory))
                        && ++links <= MaxLinks)
                    {
                        pending.Push(name); // ...and the name is looked at again, the link followed like any other
                        continue;
                    }
                }
                if (type != Libc.FileTypeDirectory)
                {
                    probe.Dispose();
                    throw Error(Libc.Enotdir, relative);
                }
                names.Add(name);
                Replace(ref current, probe);
            }
            // Every name is used: the result is the folder reached (the root, or where a last link led).
            return OpenAt(current ?? root, ".", flags & ~Libc.OpenNoFollow, relative);
        }
        finally
        {
            current?.Dispose();
        }
    }

    /// <summary>Opens the folder at <paramref name="names"/> again from the root, following no link (for "..").</summary>
    private static SafeFileHandle? Reopen(SafeFileHandle root, List<string> names, string relative)
    {
        SafeFileHandle? folder = null;
        try
        {
            foreach (var name in names)
                Replace(ref folder, OpenAt(folder ?? root, name, Libc.OpenPath | Libc.OpenDirectory | Libc.OpenNoFollow | Libc.CloseOnExec, relative));
            return folder;
        }
        catch
        {
            folder?.Dispose();
            throw;
        }
    }

    private static void Push(Stack<string> pending, string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = parts.Length - 1; i >= 0; i--)
        {
            if (parts[i] != ".")
                pending.Push(parts[i]);
        }
    }

    private static bool IsUnder(string target, string rootPath) =>
        rootPath == "/" || target == rootPath || target.StartsWith(rootPath + "/", StringComparison.Ordinal);

    private static void Replace(ref SafeFileHandle? current, SafeFileHandle? next)
    {
        current?.Dispose();
        current = next;
    }

    /// <summary>openat relative to <paramref name="directory"/>; <paramref name="what"/> names the request in errors.</summary>
    public static SafeFileHandle OpenAt(SafeFileHandle directory, string name, int flags, string what)
    {
        var fd = Libc.openat(directory, name, flags | Libc.CloseOnExec, 0);
        return fd >= 0 ? Own(fd) : throw Error(Marshal.GetLastPInvokeError(), what);
    }

    /// <summary>
    /// Creates <paramref name="name"/> in <paramref name="directory"/> as a new empty file open for reading and writing,
    /// replacing whatever had the name (a link there is removed, never followed: O_EXCL with O_NOFOLLOW).
    /// </summary>
    public static SafeFileHandle CreateReplacing(SafeFileHandle directory, string name, string what)
    {
        const int Flags = Libc.OpenReadWrite | Libc.OpenCreate | Libc.OpenExclusive | Libc.OpenNoFollow | Libc.CloseOnExec;
        const uint OwnerOnly = 0x180; // 0600 until the caller gives the file its mode and owner
        var fd = Libc.openat(directory, name, Flags, OwnerOnly);
        if (fd < 0 && Marshal.GetLastPInvokeError() == Libc.Eexist)
        {
            // Most names are new, so the common case costs one call; a leftover (or a planted link) is removed first.
            Unlink(directory, name, directory: false, what, throwIfMissing: false);
            fd = Libc.openat(directory, name, Flags, OwnerOnly);
        }
        return fd >= 0 ? Own(fd) : throw Error(Marshal.GetLastPInvokeError(), what);
    }

    /// <summary>Removes a file's name when it is there; a missing name or a folder of that name is left alone.</summary>
    public static void UnlinkFileIfPresent(SafeFileHandle directory, string name, string what)
    {
        if (Libc.unlinkat(directory, name, 0) == 0)
            return;
        var errno = Marshal.GetLastPInvokeError();
        if (errno is not (Libc.Enoent or Libc.Eisdir))
            throw Error(errno, what);
    }

    /// <summary>
    /// Writes all of <paramref name="data"/> at <paramref name="offset"/> of a regular file with pwrite, retrying a short
    /// write and EINTR; an error is the exception .NET would throw (ENOSPC stays disk_full).
    /// </summary>
    public static void WriteAt(SafeFileHandle file, ReadOnlySpan<byte> data, long offset, string what)
    {
        const int Eintr = 4;
        fixed (byte* start = data)
        {
            var done = 0;
            while (done < data.Length)
            {
                var n = Libc.pwrite(file, start + done, (nuint)(data.Length - done), offset + done);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Eintr)
                        continue;
                    throw Error(errno, what);
                }
                if (n == 0)
                    throw new IOException($"'{what}': the file system accepted no bytes.");
                done += (int)n;
            }
        }
    }

    /// <summary>fsync on a regular file, retried on EINTR; an error is the exception .NET would throw.</summary>
    public static void FlushToDisk(SafeFileHandle file, string what)
    {
        const int Eintr = 4;
        while (Libc.fsync(file) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != Eintr)
                throw Error(errno, what);
        }
    }

    /// <summary>The type bits (S_IFMT) of what <paramref name="handle"/> is, without following it if it is a link.</summary>
    public static ushort TypeOf(SafeFileHandle handle) => (ushort)(StatOf(handle).Mode & Libc.FileTypeMask);

    public static Libc.Statx StatOf(SafeFileHandle handle)
    {
        Libc.Statx st;
        if (Libc.statx(handle, "", Libc.AtEmptyPath | Libc.AtSymlinkNoFollow, Libc.StatxBasicStats, &st) != 0)
            throw Error(Marshal.GetLastPInvokeError(), "an open file");
        return st;
    }

    /// <summary>What <paramref name="name"/> in <paramref name="directory"/> is, not following a link; null when nothing is there.</summary>
    public static Libc.Statx? StatAt(SafeFileHandle directory, string name)
    {
        Libc.Statx st;
        if (Libc.statx(directory, name, Libc.AtSymlinkNoFollow, Libc.StatxBasicStats, &st) == 0)
            return st;
        var errno = Marshal.GetLastPInvokeError();
        return errno is Libc.Enoent or Libc.Enotdir ? null : throw Error(errno, name);
    }

    private static string ReadLink(SafeFileHandle link, string what)
    {
        const int Size = 4096;
        var buffer = stackalloc byte[Size];
        var n = Libc.readlinkat(link, "", buffer, Size);
        if (n < 0)
            throw Error(Marshal.GetLastPInvokeError(), what);
        if (n >= Size)
            throw new PathTooLongException($"A symbolic link on the way to '{what}' is too long.");
        return Encoding.UTF8.GetString(buffer, (int)n);
    }

    /// <summary>Where an open folder is now, as the kernel names it (no links), or null when it was removed.</summary>
    public static string? CurrentPath(SafeFileHandle handle)
    {
        var target = new FileInfo(FdPath(handle)).LinkTarget;
        return target is null || target.EndsWith(" (deleted)", StringComparison.Ordinal) ? null : target;
    }

    /// <summary>
    /// A path naming exactly the open object <paramref name="handle"/>: the kernel resolves it to that object whatever
    /// was renamed above it since, so .NET calls on "FdPath/leaf" act inside the folder that was opened.
    /// </summary>
    public static string FdPath(SafeFileHandle handle) => $"/proc/self/fd/{handle.DangerousGetHandle()}";

    /// <summary>
    /// Renames <paramref name="fromName"/> in one open folder to <paramref name="toName"/> in another; without
    /// <paramref name="replace"/> an existing target is EEXIST (RENAME_NOREPLACE, or link and unlink on file systems
    /// without it). Neither name is followed if it is a link.
    /// </summary>
    public static void Rename(SafeFileHandle fromDirectory, string fromName, SafeFileHandle toDirectory, string toName, bool replace, string what)
    {
        if (Libc.renameat2(fromDirectory, fromName, toDirectory, toName, replace ? 0 : Libc.RenameNoReplace) == 0)
            return;
        var errno = Marshal.GetLastPInvokeError();
        if (errno != Libc.Einval || replace)
            throw Error(errno, what);
        if (Libc.linkat(fromDirectory, fromName, toDirectory, toName, 0) != 0)
            throw Error(Marshal.GetLastPInvokeError(), what);
        Unlink(fromDirectory, fromName, directory: false, what);
    }

    /// <summary>unlinkat: removes the name itself (a link, never what it points to); a folder must be empty.</summary>
    public static void Unlink(SafeFileHandle folder, string name, bool directory, string what, bool throwIfMissing = true)
    {
        if (Libc.unlinkat(folder, name, directory ? Libc.AtRemoveDirectory : 0) == 0)
            return;
        var errno = Marshal.GetLastPInvokeError();
        if (errno != Libc.Enoent || throwIfMissing)
            throw Error(errno, what);
    }

    /// <summary>
    /// Removes the folder <paramref name="name"/> of <paramref name="parent"/> and everything in it. Each folder is opened
    /// with O_NOFOLLOW relative to the one above and its entries removed with unlinkat: a folder swapped for a link
    /// meanwhile fails the removal and nothing it points to is touched. <paramref name="freed"/> adds the bytes of the
    /// regular files removed (the store's own reserved files excepted), also when it fails half way.
    /// </summary>
    public static void RemoveTree(SafeFileHandle parent, string name, string what, ref long freed, int depth = 0)
    {
        if (depth > MaxRemoveDepth)
            throw new IOException($"'{what}' is more than {MaxRemoveDepth} folders deep; the server does not remove it.");
        using (var folder = OpenAt(parent, name, Libc.OpenReadOnly | Libc.OpenDirectory | Libc.OpenNoFollow, what))
        {
            foreach (var child in Directory.EnumerateFileSystemEntries(FdPath(folder)).Select(Path.GetFileName).ToList())
            {
                if (StatAt(folder, child!) is not { } st)
                    continue;
                var type = st.Mode & Libc.FileTypeMask;
                if (type == Libc.FileTypeDirectory)
                {
                    RemoveTree(folder, child!, what, ref freed, depth + 1);
                    continue;
                }
                Unlink(folder, child!, directory: false, what, throwIfMissing: false);
                if (type == Libc.FileTypeRegular && !child!.StartsWith(PathJail.ReservedPrefix, StringComparison.Ordinal))
                    freed += (long)st.Size;
            }
        }
        Unlink(parent, name, directory: true, what);
    }

    /// <summary>
    /// Deletes the file at <paramref name="fullPath"/>, which lies under <paramref name="folder"/>, opening every folder
    /// between them with O_NOFOLLOW: if one was swapped for a link, nothing is deleted (DirectoryNotFound or IOException).
    /// </summary>
    public static void DeleteUnder(string folder, string fullPath)
    {
        folder = folder.TrimEnd('/');
        if (!fullPath.StartsWith(folder + "/", StringComparison.Ordinal))
            throw new IOException($"'{fullPath}' is not under '{folder}'.");
        var names = fullPath[(folder.Length + 1)..].Split('/');
        using var root = OpenRoot(folder.Length == 0 ? "/" : folder);
        var directory = Reopen(root, [.. names[..^1]], fullPath);
        try
        {
            Unlink(directory ?? root, names[^1], directory: false, fullPath, throwIfMissing: false);
        }
        finally
        {
            directory?.Dispose();
        }
    }

    private static SafeFileHandle Own(int fd) => new(fd, ownsHandle: true);

    private static FerryException Escapes(string relative) =>
        new(FerryErrorCode.PathEscapesRoot, $"'{relative}' leads outside your root through a symbolic link.");

    /// <summary>An errno as the exception .NET itself would throw, so the store maps it like any other (not_found, ...).</summary>
    public static Exception Error(int errno, string what) => errno switch
    {
        Libc.Enoent => new FileNotFoundException($"'{what}' does not exist."),
        1 or 13 => new UnauthorizedAccessException($"Access to '{what}' was denied."), // EPERM, EACCES
        36 => new PathTooLongException($"'{what}' is too long for the file system."), // ENAMETOOLONG
        _ => new IOException($"'{what}': {Marshal.GetPInvokeErrorMessage(errno)}", errno),
    };
}
