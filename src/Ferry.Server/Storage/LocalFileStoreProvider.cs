using Ferry.Server.Auth;
using Ferry.Server.Exec;
using Ferry.Server.Hosting;

namespace Ferry.Server.Storage;

/// <summary>
/// Homes as folders of the local file system: under the data root by default, or where a user's account says. One
/// <see cref="LocalFileStore"/> per user, kept while the home and its owner stay the same: a new home is other files, with
/// its own store and quota tracker (sessions still on the old one finish there).
/// </summary>
internal sealed class LocalFileStoreProvider : IFileStoreProvider
{
    private readonly FerryServerOptions _options;
    private readonly IUserStore _users;
    private readonly UploadRegistry _uploads;
    private readonly Dictionary<string, LocalFileStore> _stores = new(StringComparer.Ordinal);

    /// <summary>The data root as the one home of a server without logins; null with logins.</summary>
    private readonly LocalFileStore? _everyone;

    /// <param name="uploads">The server's registry of part files, shared by all its stores.</param>
    public LocalFileStoreProvider(FerryServerOptions options, IUserStore users, UploadRegistry uploads)
    {
        _options = options;
        _users = users;
        _uploads = uploads;
        // The data root is made (with its owner and mode) before the server listens. With logins it only holds homes:
        // private, except that the accounts commands run as may pass through it to theirs.
        if (options.RequireAuthentication)
            ExecAccount.DataRootOwnership(options).CreateDirectory(options.Root);
        else
            _everyone = OpenHome(options.Root, options.QuotaBytes, ExecAccount.DataOwnershipFor(null, options));
    }

    public IFileStore ForUser(UserAccount user)
    {
        var home = user.HomePath(_options.Root);
        var ownership = ExecAccount.DataOwnershipFor(user, _options);
        lock (_stores)
        {
            // A home removed while the server runs (an administrator's cleanup) is made again at the next login, as a
            // server without this cache did; the cached store would otherwise answer not_found until a restart.
            if (_stores.TryGetValue(user.Name, out var existing) && existing.ConfiguredRoot == home && existing.Ownership == ownership
                && Directory.Exists(existing.RootPath))
            {
                existing.UpdateQuota(user.QuotaBytes);
                return existing;
            }
            var store = OpenHome(home, user.QuotaBytes, ownership);
            _stores[user.Name] = store;
            return store;
        }
    }

    public IFileStore ForEveryone() =>
        _everyone ?? throw new InvalidOperationException("This server requires logins: every session's files are its user's home.");

    public ValueTask<(int Deleted, int Places)> SweepPartialUploadsAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var deleted = 0;
        var folders = Folders();
        foreach (var folder in folders)
        {
            cancellationToken.ThrowIfCancellationRequested();
            deleted += LocalFileStore.SweepPartialUploads(folder, cutoff, _uploads);
        }
        return ValueTask.FromResult((deleted, folders.Count));
    }

    /// <summary>
    /// The store of one home. A home inside the data root belongs to the account its commands run as (when the server
    /// is root), also when it was made before: those commands must be able to write it.
    /// </summary>
    private LocalFileStore OpenHome(string home, long? quotaBytes, DataOwnership ownership)
    {
        var store = new LocalFileStore(home, quotaBytes, _uploads, ownership);
        var root = Path.GetFullPath(_options.Root).TrimEnd('/');
        if (store.RootPath.StartsWith(root + "/", StringComparison.Ordinal) || store.RootPath == root)
            ownership.GiveAway(store.RootPath);
        return store;
    }

    /// <summary>
    /// Every folder that may hold partial uploads: the data root, each user's home (also those outside the root, and those
    /// of stores still in use after a home moved), without those inside another one of them (swept with it).
    /// </summary>
    private List<string> Folders()
    {
        var all = _users.All.Select(u => u.HomePath(_options.Root)).Append(_options.Root).ToList();
        lock (_stores)
            all.AddRange(_stores.Values.Select(s => s.RootPath));
        all = all.Select(f => Path.GetFullPath(f).TrimEnd('/')).Where(f => f.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        return all.Where(f => !all.Any(outer => outer != f && f.StartsWith(outer + "/", StringComparison.Ordinal))).ToList();
    }
}
