using System.Runtime.InteropServices;
using Ferry.Client.Interop;
using Ferry.Protocol.Messages;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Client.Sync;

/// <summary>
/// The status of one local entry as a sync compares it, read without following a symbolic link: its type in the terms of
/// a scan (§5.9.1), size, permission bits and modification time in nanoseconds. On systems without statx the managed API
/// stands in (100 ns times; FIFOs and devices then look like files or are reported by .NET as they can).
/// </summary>
internal unsafe class LocalEntryStat
{
    private const int PermissionMask = 0x1FF; // 0777: a sync carries the permission bits only (§5.9: set-id and sticky bits are never set)

    /// <summary>O_RDONLY | O_DIRECTORY | O_CLOEXEC, and O_NOFOLLOW unless a link may be followed.</summary>
    private const int OpenFolderFlags = 0x10000 | 0x80000, NoFollow = 0x20000;

    /// <summary>
    /// A folder open for <see cref="Read(SafeFileHandle, string, string, string)"/>, so that each entry's status is read
    /// by its name in the folder rather than by a whole path the kernel walks again for every entry. Below the root the
    /// folder is opened without following a link (a folder swapped for a link since it was listed is not entered). The
    /// handle is invalid where this is not supported or the open failed; reads then go by the whole path.
    /// </summary>
    public static SafeFileHandle OpenFolder(string path, bool followLink)
    {
        var fd = OperatingSystem.IsLinux() ? Libc.Open(path, OpenFolderFlags | (followLink ? 0 : NoFollow)) : -1;
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>The entry <paramref name="entryName"/> of the open <paramref name="folder"/> (whose whole path is <paramref name="path"/>), as a scan entry named <paramref name="name"/>, or null when nothing is there.</summary>
    /// <exception cref="IOException">The status could not be read (permission denied, I/O error).</exception>
    public static ScanEntry? Read(SafeFileHandle folder, string entryName, string path, string name)
    {
        if (folder.IsInvalid)
            return Read(path, name);
        var added = false;
        try
        {
            folder.DangerousAddRef(ref added);
            return Read((int)folder.DangerousGetHandle(), entryName, path, name);
        }
        finally
        {
            if (added)
                folder.DangerousRelease();
        }
    }

    /// <summary>The entry at <paramref name="path"/> as a scan entry named <paramref name="name"/>, or null when nothing is there.</summary>
    /// <exception cref="IOException">The status could not be read (permission denied, I/O error).</exception>
    public static ScanEntry? Read(string path, string name) =>
        OperatingSystem.IsLinux() ? Read(Libc.AtFdCwd, path, path, name) : ReadManaged(path, name);

    private static ScanEntry? Read(int folderFd, string relativeToFolder, string path, string name)
    {
        Libc.Statx status;
        if (Libc.StatxPath(folderFd, relativeToFolder, Libc.AtSymlinkNoFollow, Libc.StatxBasicStats, &status) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is 2 or 20) // ENOENT, ENOTDIR
                return null;
            throw new IOException($"Cannot read the status of '{path}': {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
        }
        var mode = status.Mode & PermissionMask;
        var modified = status.ModifyTime.TotalNanoseconds;
        return (status.Mode & Libc.FileTypeMask) switch
        {
            Libc.RegularFile => new ScanEntry { Name = name, Type = ScanEntryTypes.File, Size = (long)status.Size, ModifiedNs = modified, Mode = mode },
            Libc.DirectoryType => new ScanEntry { Name = name, Type = ScanEntryTypes.Directory, ModifiedNs = modified, Mode = mode },
            Libc.SymbolicLink => new ScanEntry { Name = name, Type = ScanEntryTypes.Link, ModifiedNs = modified, Target = new FileInfo(path).LinkTarget ?? "" },
            _ => new ScanEntry { Name = name, Type = ScanEntryTypes.Other, ModifiedNs = modified },
        };
    }

    private static ScanEntry? ReadManaged(string path, string name)
    {
        var info = new FileInfo(path);
        if (!info.Exists && !Directory.Exists(path) && info.LinkTarget is null)
            return null;
        var modified = (info.LastWriteTimeUtc - DateTime.UnixEpoch).Ticks * 100;
        if (info.LinkTarget is { } target)
            return new ScanEntry { Name = name, Type = ScanEntryTypes.Link, ModifiedNs = modified, Target = target };
        int? mode = OperatingSystem.IsWindows() ? null : (int)info.UnixFileMode;
        return info.Attributes.HasFlag(FileAttributes.Directory)
            ? new ScanEntry { Name = name, Type = ScanEntryTypes.Directory, ModifiedNs = modified, Mode = mode }
            : new ScanEntry { Name = name, Type = ScanEntryTypes.File, Size = info.Length, ModifiedNs = modified, Mode = mode };
    }

    /// <summary>Sets the modification time of the entry at <paramref name="path"/> (not following a link) to the nanosecond.</summary>
    /// <exception cref="IOException">The time could not be set.</exception>
    public static void SetModifiedTime(string path, long modifiedNs)
    {
        if (!OperatingSystem.IsLinux())
        {
            File.SetLastWriteTimeUtc(path, DateTime.UnixEpoch.AddTicks(modifiedNs / 100));
            return;
        }
        var times = stackalloc Libc.Timespec[2];
        Libc.ModificationOnly(modifiedNs, times);
        if (Libc.UtimensAt(Libc.AtFdCwd, path, times, Libc.AtSymlinkNoFollow) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"Cannot set the modification time of '{path}': {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
        }
    }
}
