using Ferry.Protocol.Errors;
using Ferry.Server.Auth;
using Ferry.Server.Hosting;
using Ferry.Server.Interop;
using Ferry.Server.Storage;

namespace Ferry.Server.Exec;

/// <summary>
/// The OS account a user's commands run as. A server running as root never runs a command as root: it switches to the
/// user's <c>os_user</c>, or to <see cref="FerryServerOptions.ExecUser"/>; a server running as anyone else runs
/// commands as itself (it could not switch), and refuses a user whose <c>os_user</c> names another account.
/// </summary>
internal sealed record ExecAccount(string Name, uint Uid, uint Gid)
{
    /// <summary>Whether this process runs as root (and so must, and can, switch accounts for commands).</summary>
    public static bool ServerIsRoot => OperatingSystem.IsLinux() && Libc.geteuid() == 0;

    /// <summary>The account to switch to, or null when the server does not run as root.</summary>
    /// <exception cref="FerryException">exec_failed: the account does not exist, is root, or cannot be switched to.</exception>
    public static ExecAccount? For(UserAccount? user, FerryServerOptions options)
    {
        if (!ServerIsRoot)
        {
            if (user?.OsUser is { } wanted && OperatingSystem.IsLinux() && Libc.LookUpUser(null, Libc.geteuid()) is { } self && self.Name != wanted)
                throw new FerryException(FerryErrorCode.ExecFailed,
                    $"User '{user.Name}' runs commands as '{wanted}', but this server runs as '{self.Name}' and can only run them as itself.");
            return null;
        }
        var name = user?.OsUser ?? options.ExecUser;
        if (Libc.LookUpUser(name) is not { } found)
            throw new FerryException(FerryErrorCode.ExecFailed, MissingMessage(name));
        if (found.Uid == 0 || found.Gid == 0)
            throw new FerryException(FerryErrorCode.ExecFailed, $"Commands never run as root, and the account '{name}' is root's.");
        return new ExecAccount(found.Name, found.Uid, found.Gid);
    }

    /// <summary>Who should own what the server creates in a user's home, or null when no switch happens.</summary>
    public static ExecAccount? OwnerOfData(UserAccount? user, FerryServerOptions options)
    {
        if (!ServerIsRoot || !options.AllowExec || options.ExecUnconfined)
            return null;
        try
        {
            return For(user, options);
        }
        catch (FerryException)
        {
            return null; // the command will be refused with the reason; files stay the server's
        }
    }

    /// <summary>Owner and permissions of what the server creates in <paramref name="user"/>'s home (null: the data root without logins).</summary>
    public static DataOwnership DataOwnershipFor(UserAccount? user, FerryServerOptions options)
    {
        var owner = OwnerOfData(user, options);
        return new DataOwnership(options.DataFileMode, options.DataDirectoryMode, owner?.Uid, owner?.Gid);
    }

    /// <summary>
    /// The data root with logins: the server's, private, except that the accounts commands run as may pass through it
    /// (search, not read) to reach their homes when the server is root.
    /// </summary>
    public static DataOwnership DataRootOwnership(FerryServerOptions options)
    {
        var traverse = ServerIsRoot && options.AllowExec && !options.ExecUnconfined ? UnixFileMode.GroupExecute | UnixFileMode.OtherExecute : 0;
        return new DataOwnership(options.DataFileMode, options.DataDirectoryMode | traverse);
    }

    public static string MissingMessage(string name) =>
        $"The OS account '{name}' that commands run as does not exist. Create it (useradd --system --no-create-home " +
        $"--shell /usr/sbin/nologin {name}), map the user to another account (os_user in the users file), or set exec_user.";
}
