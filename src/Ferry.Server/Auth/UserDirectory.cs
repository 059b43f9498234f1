using Ferry.Server.Hosting;
using Ferry.Server.Storage;

namespace Ferry.Server.Auth;

/// <summary>
/// The users the server knows, loaded from the users file at start (and again on <see cref="Reload"/>), and each
/// user's file store, shared by all of that user's connections so that quotas and upload locks hold across them. A
/// user keeps one store (and so one quota tracker) for as long as the home stays the same: a changed quota is set on it.
/// </summary>
public sealed class UserDirectory
{
    private readonly FerryServerOptions _options;
    private readonly UploadRegistry _uploads;
    private readonly Dictionary<string, LocalFileStore> _stores = new(StringComparer.Ordinal);
    private volatile IReadOnlyDictionary<string, UserAccount> _users;
    private int _generation;

    public UserDirectory(FerryServerOptions options)
        : this(options, new UploadRegistry(options.MaxOpenUploads, options.MaxOpenUploadsPerUser))
    {
    }

    /// <param name="uploads">The server's registry of part files, shared with every other store.</param>
    internal UserDirectory(FerryServerOptions options, UploadRegistry uploads)
    {
        _options = options;
        _uploads = uploads;
        _users = LoadUsers();
    }

    public int Count => _users.Count;

    /// <summary>The users file as it was just before it was last read successfully.</summary>
    public UsersFileStamp Loaded { get; private set; } = UsersFileStamp.Missing;

    /// <summary>
    /// Goes up by one each time the users are loaded again: a session that logged in under an older generation looks
    /// its user up anew before its next command (removed users and taken permissions reach open connections).
    /// </summary>
    public int Generation => Volatile.Read(ref _generation);

    /// <summary>Re-reads the users file; on a malformed file the old list stays and the error is thrown.</summary>
    public void Reload()
    {
        _users = LoadUsers();
        // Quotas change for the sessions already logged in too, on the same trackers.
        lock (_stores)
        {
            foreach (var (name, store) in _stores)
            {
                if (_users.TryGetValue(name, out var user) && user.HomePath(_options.Root) == store.ConfiguredRoot)
                    store.UpdateQuota(user.QuotaBytes);
            }
        }
        Interlocked.Increment(ref _generation); // after the swap: whoever sees the new number finds the new list
    }

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
    internal IFileStore StoreFor(UserAccount user)
    {
        var home = user.HomePath(_options.Root);
        var ownership = Exec.ExecAccount.DataOwnershipFor(user, _options);
        lock (_stores)
        {
            if (_stores.TryGetValue(user.Name, out var existing) && existing.ConfiguredRoot == home && existing.Ownership == ownership)
            {
                existing.UpdateQuota(user.QuotaBytes);
                return existing;
            }
            // A new home (or a new owner) is other files: its own store and tracker. Sessions on the old one finish there.
            var store = OpenHome(home, user.QuotaBytes, ownership);
            _stores[user.Name] = store;
            return store;
        }
    }

    /// <summary>Every folder that may hold users' partial uploads: the homes in the users file and those of stores in use.</summary>
    internal IReadOnlyList<string> HomeFolders()
    {
        var homes = _users.Values.Select(u => u.HomePath(_options.Root)).ToHashSet(StringComparer.Ordinal);
        lock (_stores)
        {
            foreach (var store in _stores.Values)
                homes.Add(store.RootPath);
        }
        return homes.ToList();
    }

    /// <summary>
    /// The store of one home. A home inside the data root belongs to the account its commands run as (when the server
    /// is root), also when it was made before: those commands must be able to write it.
    /// </summary>
    internal LocalFileStore OpenHome(string home, long? quotaBytes, DataOwnership ownership)
    {
        var store = new LocalFileStore(home, quotaBytes, _uploads, ownership);
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
