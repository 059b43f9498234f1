using System.Collections.Concurrent;
using Ferry.Server.Hosting;
using Ferry.Server.Storage;

namespace Ferry.Server.Auth;

/// <summary>
/// The users the server knows, loaded from the users file at start (and again on <see cref="Reload"/>), and each
/// user's file store, shared by all of that user's connections so that quotas and upload locks hold across them.
/// </summary>
public sealed class UserDirectory
{
    private readonly FerryServerOptions _options;
    private readonly ConcurrentDictionary<string, LocalFileStore> _stores = new(StringComparer.Ordinal);
    private volatile IReadOnlyDictionary<string, UserAccount> _users;

    public UserDirectory(FerryServerOptions options)
    {
        _options = options;
        _users = LoadUsers();
    }

    public int Count => _users.Count;

    /// <summary>The users file as it was just before it was last read successfully.</summary>
    public UsersFileStamp Loaded { get; private set; } = UsersFileStamp.Missing;

    /// <summary>Re-reads the users file; on a malformed file the old list stays and the error is thrown.</summary>
    public void Reload() => _users = LoadUsers();

    public bool TryGet(string name, out UserAccount account)
    {
        if (_users.TryGetValue(name, out var found))
        {
            account = found;
            return true;
        }
        account = null!;
        return false;
    }

    /// <summary>The store rooted at the user's home (created on first use).</summary>
    public IFileStore StoreFor(UserAccount user)
    {
        var home = user.HomePath(_options.Root);
        var ownership = Exec.ExecAccount.DataOwnershipFor(user, _options);
        return _stores.AddOrUpdate(user.Name,
            _ => OpenHome(home, user.QuotaBytes, ownership),
            (_, existing) => existing.RootPath == Path.GetFullPath(home).TrimEnd('/') && existing.Quota.LimitBytes == user.QuotaBytes && existing.Ownership == ownership
                ? existing
                : OpenHome(home, user.QuotaBytes, ownership));
    }

    /// <summary>
    /// The store of one home. A home inside the data root belongs to the account its commands run as (when the server
    /// is root), also when it was made before: those commands must be able to write it.
    /// </summary>
    internal LocalFileStore OpenHome(string home, long? quotaBytes, DataOwnership ownership)
    {
        var store = new LocalFileStore(home, quotaBytes, ownership);
        var root = Path.GetFullPath(_options.Root).TrimEnd('/');
        if (store.RootPath.StartsWith(root + "/", StringComparison.Ordinal) || store.RootPath == root)
            ownership.GiveAway(store.RootPath);
        return store;
    }

    private Dictionary<string, UserAccount> LoadUsers()
    {
        if (!_options.RequireAuthentication)
            return [];
        // Taken before reading: a change made while the file is read shows as a difference afterwards.
        var stamp = UsersFileStamp.Of(_options.EffectiveUsersFile);
        var users = UsersFile.Load(_options.EffectiveUsersFile).ToDictionary(u => u.Name, StringComparer.Ordinal);
        Loaded = stamp;
        return users;
    }
}
