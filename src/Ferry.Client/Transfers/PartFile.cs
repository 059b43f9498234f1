using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Client.Transfers;

/// <summary>
/// Opens a download's hidden part file (<c>.ferry-part.NAME</c>) without ever following a link planted at its name:
/// someone who can write to the download directory must not make a download overwrite (or a resume read) another file.
/// On Linux the file is opened with O_NOFOLLOW, created with O_EXCL when it is new (mode 0666 less the umask, as
/// any new file, since it becomes the download under its final name), and an existing one
/// is used only if it is a regular file owned by this user with no other hard link. Elsewhere, the same checks on the
/// name (lstat) before a managed open, and creation with CreateNew (which never follows a link).
/// </summary>
internal static partial class PartFile
{
    /// <summary>
    /// Opens <paramref name="path"/> for reading and writing, creating it when it does not exist. Throws
    /// <see cref="IOException"/> with a sentence that names the file when it is a symbolic link, not a regular file, not
    /// the user's own, or hard-linked elsewhere; the file found there is left as it is.
    /// </summary>
    public static SafeFileHandle OpenForWriting(string path) => Open(path, write: true, out _);

    /// <summary>
    /// <see cref="OpenForWriting(string)"/>, telling whether the file was made by this call (<paramref name="created"/>):
    /// then it is empty, so a caller that wants it empty need not truncate it.
    /// </summary>
    public static SafeFileHandle OpenForWriting(string path, out bool created) => Open(path, write: true, out created);

    /// <summary>Opens an existing part file for reading, with the same checks (a resume must not read a linked file either).</summary>
    public static SafeFileHandle OpenForReading(string path) => Open(path, write: false, out _);

    /// <summary>
    /// Commits a finished download: the data goes to disk (fsync) before it gets its final name, so a crash never leaves
    /// the name on missing data; the mode (when given) and modification time (when given: the caller passes null when
    /// the user asked not to preserve it) are set on the part file first, so the file appears under its name complete;
    /// then the rename (the handle is closed by then), replacing an existing file only with <paramref name="overwrite"/>. A mode or time the file
    /// system refuses does not fail the download: the data is what matters. Throws <see cref="IOException"/> when the
    /// rename fails (for example the target appeared and <paramref name="overwrite"/> is off).
    /// </summary>
    public static void Commit(SafeFileHandle handle, string partPath, string finalPath, bool overwrite, long? modifiedNs, UnixFileMode? mode = null)
    {
        if (mode is { } bits && !OperatingSystem.IsWindows())
        {
            try
            {
                File.SetUnixFileMode(handle, bits);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
        if (modifiedNs is { } time)
            SetModifiedTime(handle, time);
        // fsync straight on the handle (a FileStream around it, or RandomAccess, first asks whether it can seek), which is
        // then closed.
        try
        {
            if (OperatingSystem.IsLinux())
                FlushToDisk(handle, partPath);
            else
                RandomAccess.FlushToDisk(handle);
        }
        finally
        {
            handle.Dispose();
        }
        File.Move(partPath, finalPath, overwrite);
    }

    private static void FlushToDisk(SafeFileHandle handle, string path)
    {
        const int Interrupted = 4; // EINTR
        while (Interop.Libc.Fsync(handle) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != Interrupted)
                throw new IOException($"Could not write the partial download '{path}' to disk: {new Win32Exception(errno).Message}.", errno);
        }
    }

    /// <summary>Deletes <paramref name="path"/>; false when it could not be deleted.</summary>
    public static bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static SafeFileHandle Open(string path, bool write, out bool created)
    {
        created = false;
        if (!OperatingSystem.IsLinux())
            return OpenManaged(path, write);

        var flags = (write ? ReadWrite : ReadOnly) | NoFollow | CloseOnExec;
        var fd = -1;
        if (write)
        {
            // Most downloads are fresh: creating first costs one call where opening first cost two. O_EXCL never follows
            // a link; a name that exists (EEXIST, a link there too) is opened as before, with the checks below.
            fd = open(path, flags | Create | Exclusive, NewFileMode);
            if (fd >= 0)
            {
                // Made just now by this call: a new regular file of this user with one link, which the checks would only confirm.
                created = true;
                return new SafeFileHandle(fd, ownsHandle: true);
            }
            if (Marshal.GetLastPInvokeError() == AlreadyExists)
                fd = open(path, flags, 0);
        }
        else
        {
            fd = open(path, flags, 0);
        }
        if (fd < 0 && Marshal.GetLastPInvokeError() == NoSuchFile && write)
            fd = open(path, flags | Create | Exclusive, NewFileMode); // removed between the two opens: made anew, checked below
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                TooManyLinks => NotOurs(path, "is a symbolic link"),
                AlreadyExists => NotOurs(path, "appeared while it was being created"),
                _ => new IOException($"Could not open the partial download '{path}': {new Win32Exception(errno).Message}.", errno),
            };
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            CheckOwnRegularFile(handle, path);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static void CheckOwnRegularFile(SafeFileHandle handle, string path)
    {
        // struct stat differs between architectures; the two Linux layouts this runs on are read here, others skip the
        // owner check (O_NOFOLLOW and O_EXCL still apply).
        var layout = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => (Nlink: 16, NlinkSize: 8, Mode: 24, Uid: 28),
            Architecture.Arm64 => (Nlink: 20, NlinkSize: 4, Mode: 16, Uid: 24),
            _ => default((int Nlink, int NlinkSize, int Mode, int Uid)?),
        };
        if (layout is not { } at)
            return;
        Span<byte> stat = stackalloc byte[256];
        if (fstat((int)handle.DangerousGetHandle(), stat) != 0)
            throw new IOException($"Could not inspect the partial download '{path}': {new Win32Exception(Marshal.GetLastPInvokeError()).Message}.");
        var mode = BitConverter.ToUInt32(stat[at.Mode..]);
        var uid = BitConverter.ToUInt32(stat[at.Uid..]);
        var links = at.NlinkSize == 8 ? BitConverter.ToUInt64(stat[at.Nlink..]) : BitConverter.ToUInt32(stat[at.Nlink..]);
        if ((mode & FileTypeMask) != RegularFile)
            throw NotOurs(path, "is not a regular file");
        if (uid != geteuid())
            throw NotOurs(path, "belongs to another user");
        if (links != 1)
            throw NotOurs(path, "has other hard links");
    }

    private static SafeFileHandle OpenManaged(string path, bool write)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is not null)
            throw NotOurs(path, "is a symbolic link");
        if (!info.Exists)
        {
            if (Directory.Exists(path))
                throw NotOurs(path, "is not a regular file");
            if (!write)
                throw new FileNotFoundException($"There is no partial download '{path}'.", path);
            try
            {
                return File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (File.Exists(path) || new FileInfo(path).LinkTarget is not null)
            {
                throw NotOurs(path, "appeared while it was being created");
            }
        }
        return File.OpenHandle(path, FileMode.Open, write ? FileAccess.ReadWrite : FileAccess.Read, write ? FileShare.None : FileShare.Read);
    }

    private static IOException NotOurs(string path, string what) =>
        new($"The partial download '{path}' {what}, so it is not one ferry wrote; it was left untouched. Remove it (or download elsewhere) and try again.");

    private const int ReadOnly = 0;
    private const int ReadWrite = 2;
    private const int Create = 0x40;
    private const int Exclusive = 0x80;
    private const int CloseOnExec = 0x80000;
    // O_NOFOLLOW: 0400000 on x86-64 and most architectures, 0100000 on arm and arm64.
    private static readonly int NoFollow = RuntimeInformation.ProcessArchitecture is Architecture.Arm or Architecture.Arm64 ? 0x8000 : 0x20000;
    private const int NewFileMode = 0x1B6; // 0666, less the umask: what File.OpenHandle creates
    private const int NoSuchFile = 2; // ENOENT
    private const int AlreadyExists = 17; // EEXIST
    private const int TooManyLinks = 40; // ELOOP: what O_NOFOLLOW reports for a symbolic link
    private const uint FileTypeMask = 0xF000; // S_IFMT
    private const uint RegularFile = 0x8000; // S_IFREG

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fstat(int fd, Span<byte> stat);

    [LibraryImport("libc")]
    private static partial uint geteuid();

    /// <summary>
    /// Sets the file's modification time to the nanosecond (futimens on Linux; the managed API, which rounds to 100 ns,
    /// elsewhere). A time the file system refuses is left as it is.
    /// </summary>
    private static unsafe void SetModifiedTime(SafeFileHandle handle, long unixNs)
    {
        if (OperatingSystem.IsLinux())
        {
            var times = stackalloc Interop.Libc.Timespec[2];
            Interop.Libc.ModificationOnly(unixNs, times);
            _ = Interop.Libc.Futimens(handle, times);
            return;
        }
        try
        {
            File.SetLastWriteTimeUtc(handle, DateTime.UnixEpoch.AddTicks(unixNs / TimeSpan.NanosecondsPerTick));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
        }
    }
}
