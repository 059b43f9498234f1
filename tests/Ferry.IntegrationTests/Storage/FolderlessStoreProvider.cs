using Ferry.Server.Auth;
using Ferry.Server.Storage;

namespace Ferry.IntegrationTests.Storage;

/// <summary>Hands out <see cref="FolderlessStore"/>s over the server's own local homes: one per user, as a real provider keeps them.</summary>
internal sealed class FolderlessStoreProvider(IFileStoreProvider local) : IFileStoreProvider
{
    private readonly Dictionary<string, FolderlessStore> _stores = new(StringComparer.Ordinal);

    /// <summary>The stores handed out so far, by user.</summary>
    public IReadOnlyDictionary<string, FolderlessStore> Stores
    {
        get
        {
            lock (_stores)
                return new Dictionary<string, FolderlessStore>(_stores);
        }
    }

    public IFileStore ForUser(UserAccount user)
    {
        var home = local.ForUser(user);
        lock (_stores)
        {
            if (!_stores.TryGetValue(user.Name, out var store) || !store.Description.EndsWith(home.Description, StringComparison.Ordinal))
                _stores[user.Name] = store = new FolderlessStore(home);
            return store;
        }
    }

    public IFileStore ForEveryone() => new FolderlessStore(local.ForEveryone());

    public ValueTask<(int Deleted, int Places)> SweepPartialUploadsAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        local.SweepPartialUploadsAsync(cutoff, cancellationToken);
}
