using System.Runtime.InteropServices;
using Ferry.Sync.Interop;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Sync.Caching;

/// <summary>
/// Reads <see cref="FileIdentity"/> with statx(2). Only Linux offers inode, device and nanosecond change time through a
/// stable call; elsewhere <see cref="IsSupported"/> is false and the hash cache stays empty (every file is read).
/// </summary>
public static unsafe class FileStat
{
    /// <summary>Whether identities can be read on this system.</summary>
    public static bool IsSupported { get; } = OperatingSystem.IsLinux();

    /// <summary>
    /// The identity of the regular file at <paramref name="path"/>, without following a symbolic link. False when nothing
    /// is there or it is not a regular file (a link, a folder, a device).
    /// </summary>
    /// <exception cref="IOException">statx failed for another reason (permission denied, I/O error).</exception>
    /// <exception cref="PlatformNotSupportedException"><see cref="IsSupported"/> is false.</exception>
    public static bool TryGetRegularFile(string path, out FileIdentity identity)
    {
        ArgumentNullException.ThrowIfNull(path);
        EnsureSupported();
        Libc.Statx result;
        if (Libc.StatxPath(Libc.AtFdCwd, path, Libc.AtSymlinkNoFollow, Libc.StatxBasicStats, &result) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is Libc.Enoent or Libc.Enotdir)
            {
                identity = default;
                return false;
            }
            throw new IOException($"Cannot read the status of '{path}': {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
        }
        identity = ToIdentity(result);
        return (result.Mode & Libc.FileTypeMask) == Libc.RegularFile;
    }

    /// <summary>The identity of the file <paramref name="handle"/> has open; false when it is not a regular file.</summary>
    /// <exception cref="IOException">statx failed.</exception>
    public static bool TryGetRegular(SafeFileHandle handle, out FileIdentity identity)
    {
        var result = StatOf(handle);
        identity = ToIdentity(result);
        return (result.Mode & Libc.FileTypeMask) == Libc.RegularFile;
    }

    /// <summary>The identity of the file <paramref name="handle"/> has open.</summary>
    /// <exception cref="IOException">statx failed.</exception>
    public static FileIdentity Get(SafeFileHandle handle) => ToIdentity(StatOf(handle));

    private static Libc.Statx StatOf(SafeFileHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        EnsureSupported();
        Libc.Statx result;
        byte emptyPath = 0;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (Libc.StatxDescriptor((int)handle.DangerousGetHandle(), &emptyPath, Libc.AtEmptyPath, Libc.StatxBasicStats, &result) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new IOException($"Cannot read the status of an open file: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
            }
        }
        finally
        {
            if (added)
                handle.DangerousRelease();
        }
        return result;
    }

    private static FileIdentity ToIdentity(in Libc.Statx result) => new(
        // glibc's makedev layout, so the value matches st_dev of stat(2).
        Device: ((ulong)(result.DevMajor & 0xFFFFF000) << 32) | ((ulong)(result.DevMajor & 0xFFF) << 8)
              | ((ulong)(result.DevMinor & 0xFFFFFF00) << 12) | (result.DevMinor & 0xFF),
        Inode: result.Inode,
        Size: (long)result.Size,
        ModifiedNs: result.ModifyTime.TotalNanoseconds,
        ChangedNs: result.ChangeTime.TotalNanoseconds);

    private static void EnsureSupported()
    {
        if (!IsSupported)
            throw new PlatformNotSupportedException("File identities (statx) are only read on Linux.");
    }
}
