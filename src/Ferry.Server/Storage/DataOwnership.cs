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
        File.SetUnixFileMode(path, DirectoryMode); // the umask applied to the mkdir; this does not
        GiveAway(path);
        return true;
    }

    /// <summary>Sets the permissions and owner of a file the server just created and holds open.</summary>
    public void Apply(SafeFileHandle handle)
    {
        if (OperatingSystem.IsWindows())
            return;
        File.SetUnixFileMode(handle, FileMode);
        if (Uid is { } uid && OperatingSystem.IsLinux())
            Check(Libc.fchown((int)handle.DangerousGetHandle(), uid, Gid ?? uint.MaxValue), "the new file");
    }

    /// <summary>Sets the permissions and owner of a file the server just created by name.</summary>
    public void Apply(string path)
    {
        if (OperatingSystem.IsWindows())
            return;
        File.SetUnixFileMode(path, FileMode);
        GiveAway(path);
    }

    /// <summary>Gives an existing folder (a home) to the owner, without changing what is in it.</summary>
    public void GiveAway(string path)
    {
        if (Uid is { } uid && OperatingSystem.IsLinux())
            Check(Libc.chown(path, uid, Gid ?? uint.MaxValue), path);
    }

    private static void Check(int result, string what)
    {
        if (result != 0)
            throw new IOException($"Could not give {what} to the account that runs commands: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}.");
    }
}
