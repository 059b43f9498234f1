using System.Runtime.InteropServices;
using Ferry.Server.Interop;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Server.Storage;

/// <summary>
/// Who owns what the server creates in a home (the home itself, folders, uploads) and with which permissions. The
/// permissions are set explicitly after creation, so the umask the server was started with cannot widen them. When
/// the server runs as root and commands run as another account, that account owns the data, so its commands can
/// work on their own files (docs/security.md, "Remote commands").
/// </summary>
public sealed record DataOwnership(UnixFileMode FileMode, UnixFileMode DirectoryMode, uint? Uid = null, uint? Gid = null)
{
    /// <summary>Owner-only (0600 files, 0700 folders), owned by the server's own account.</summary>
    public static DataOwnership Private { get; } = new(UnixFileMode.UserRead | UnixFileMode.UserWrite,
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

    /// <summary>Creates <paramref name="path"/> (its parent must exist or is created as usual) unless it exists; true when it was created.</summary>
    public bool CreateDirectory(string path)
    {
        if (Directory.Exists(path))
            return false;
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return true;
        }
        if (Path.GetDirectoryName(Path.GetFullPath(path).TrimEnd('/')) is { Length: > 0 } parent && !Directory.Exists(parent))
            Directory.CreateDirectory(parent);
        Directory.CreateDirectory(path, DirectoryMode);
        SetDirectory(path, DirectoryMode); // the umask applied to the mkdir; this does not
        return true;
    }

    /// <summary>
    /// Creates the folder <paramref name="name"/> in the open folder <paramref name="parent"/> (mkdirat) and returns it open,
    /// mode and owner set through that descriptor (opened without following a link, so a link swapped in fails);
    /// null when the name already exists. Linux only.
    /// </summary>
    internal SafeFileHandle? CreateDirectoryAt(SafeFileHandle parent, string name, string what)
    {
        if (Libc.mkdirat(parent, name, (uint)DirectoryMode) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno == Libc.Eexist ? null : throw Beneath.Error(errno, what);
        }
        var folder = Beneath.OpenAt(parent, name, Libc.OpenReadOnly | Libc.OpenDirectory | Libc.OpenNoFollow, what);
        try
        {
            var fd = (int)folder.DangerousGetHandle();
            Check(Libc.fchmod(fd, (uint)DirectoryMode), what); // the umask applied to the mkdir; this does not
            if (Uid is { } uid)
                Check(Libc.fchown(fd, uid, Gid ?? uint.MaxValue), what);
            return folder;
        }
        catch
        {
            folder.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Creates a new file for the server to fill, owner and mode set. Whatever had the name goes first, and the file is
    /// made with O_EXCL, which never follows a link: a command that planted a link there (its account owns the folder)
    /// cannot make a server running as root write through it.
    /// </summary>
    public SafeFileHandle CreateFile(string path, FileOptions options = FileOptions.None)
    {
        File.Delete(path);
        var handle = File.OpenHandle(path, System.IO.FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, options);
        try
        {
            Apply(handle);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// <see cref="CreateFile"/> for a name in a folder held open: replaces whatever has the name, never through a link,
    /// with one openat in the common case (no path walk through /proc). Without <paramref name="setMode"/> the file keeps
    /// the 0600 (less the umask) it is created with, for a caller that sets the final mode itself before anyone can use
    /// the file; the owner is set either way.
    /// </summary>
    public SafeFileHandle CreateFileAt(SafeFileHandle folder, string name, string what, bool setMode = true)
    {
        var handle = Beneath.CreateReplacing(folder, name, what);
        try
        {
            Apply(handle, setMode);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Writes a new small file the same way as <see cref="CreateFileAt"/>.</summary>
    public void WriteNewFileAt(SafeFileHandle folder, string name, ReadOnlySpan<byte> content, string what)
    {
        using var handle = CreateFileAt(folder, name, what);
        RandomAccess.Write(handle, content, 0);
    }

    /// <summary>Writes a new small file the same way as <see cref="CreateFile"/>.</summary>
    public void WriteNewFile(string path, ReadOnlySpan<byte> content)
    {
        using var handle = CreateFile(path);
        RandomAccess.Write(handle, content, 0);
    }

    /// <summary>Sets the permissions (unless not <paramref name="setMode"/>) and owner of a file the server just created and holds open.</summary>
    public void Apply(SafeFileHandle handle, bool setMode = true)
    {
        if (OperatingSystem.IsWindows())
            return;
        if (setMode)
            File.SetUnixFileMode(handle, FileMode);
        if (Uid is { } uid && OperatingSystem.IsLinux())
            Check(Libc.fchown((int)handle.DangerousGetHandle(), uid, Gid ?? uint.MaxValue), "the new file");
    }

    /// <summary>Gives an existing folder (a home) to the owner, without changing its mode or what is in it.</summary>
    public void GiveAway(string path)
    {
        if (Uid is not null && OperatingSystem.IsLinux())
            SetDirectory(path, mode: null);
    }

    /// <summary>Mode and owner of a folder through a descriptor opened without following links (a swapped-in link fails).</summary>
    private void SetDirectory(string path, UnixFileMode? mode)
    {
        if (!OperatingSystem.IsLinux())
        {
            if (mode is { } m && !OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, m);
            return;
        }
        var fd = Libc.open(path, Libc.OpenReadOnly | Libc.OpenDirectory | Libc.OpenNoFollow | Libc.CloseOnExec);
        Check(fd < 0 ? -1 : 0, path);
        try
        {
            if (mode is { } m)
                Check(Libc.fchmod(fd, (uint)m), path);
            if (Uid is { } uid)
                Check(Libc.fchown(fd, uid, Gid ?? uint.MaxValue), path);
        }
        finally
        {
            Libc.close(fd);
        }
    }

    private static void Check(int result, string what)
    {
        if (result != 0)
            throw new IOException($"Could not set the owner or permissions of {what}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}.");
    }
}
