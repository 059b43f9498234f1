using Ferry.Server.Hosting;

namespace Ferry.Server.Auth;

/// <summary>
/// The users of the users file (<see cref="FerryServerOptions.EffectiveUsersFile"/>): loaded at start, and again on
/// <see cref="Reload"/> (the <see cref="UsersFileReloader"/> calls it when the file changes). A server without logins
/// has none.
/// </summary>
public sealed class UserDirectory : IUserStore
{
    private readonly FerryServerOptions _options;
    private volatile IReadOnlyDictionary<string, UserAccount> _users;
    private int _generation;

    public UserDirectory(FerryServerOptions options)
    {
        _options = options;
        _users = LoadUsers();
    }

    public int Count => _users.Count;

    public string Description => Path.GetFullPath(_options.EffectiveUsersFile);

    public IReadOnlyCollection<UserAccount> All => [.. _users.Values];

    /// <summary>The users file as it was just before it was last read successfully.</summary>
    public UsersFileStamp Loaded { get; private set; } = UsersFileStamp.Missing;

    /// <summary>Goes up by one each time the users are loaded again (<see cref="IUserStore.Generation"/>).</summary>
    public int Generation => Volatile.Read(ref _generation);

    /// <summary>Re-reads the users file; on a malformed file the old list stays and the error is thrown.</summary>
    public void Reload()
    {
        _users = LoadUsers();
        // After the swap: whoever sees the new number finds the new list. Sessions already logged in take up their
        // account as it is now (permissions, home, quota) before their next command.
        Interlocked.Increment(ref _generation);
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
