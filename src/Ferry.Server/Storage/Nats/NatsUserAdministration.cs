using Ferry.Protocol.Errors;
using Ferry.Server.Auth;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// The users of a NATS store, changed from any machine that reaches the cluster; every server watching the bucket sees a
/// change within moments. An add is create-only; a change is a compare-and-set against what was read, tried again when
/// another administrator changed the same user at the same moment.
/// </summary>
internal sealed class NatsUserAdministration(NatsBuckets buckets, string description) : IUserAdministration
{
    private const int Attempts = 5;

    private readonly NatsUserRecords _records = new(buckets.Users);

    public string Description => description;

    public Task<UserListing> ListAsync(CancellationToken cancellationToken) => _records.ListAsync(cancellationToken);

    public async Task AddAsync(UserAccount user, CancellationToken cancellationToken)
    {
        if (!await _records.TryAddAsync(user, cancellationToken).ConfigureAwait(false))
            throw new ArgumentException($"User '{user.Name}' already exists; use 'ferry user set {user.Name} --new-key' for a new key.");
    }

    public async Task<UserAccount> UpdateAsync(string name, Func<UserAccount, UserAccount> change, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var (current, revision) = await _records.GetAsync(name, cancellationToken).ConfigureAwait(false)
                ?? throw new ArgumentException($"There is no user '{name}'; add it with 'ferry user add {name}'.");
            var changed = change(current);
            if (changed.Name != name)
                throw new ArgumentException("A user cannot be renamed.");
            if (await _records.TryUpdateAsync(changed, revision, cancellationToken).ConfigureAwait(false))
                return changed;
        }
        throw new IOException($"User '{name}' kept changing under another administrator; nothing was changed. Try again.");
    }

    public async Task RemoveAsync(string name, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            // The revision alone: a record that cannot be read must still be removable.
            var revision = await _records.GetRevisionAsync(name, cancellationToken).ConfigureAwait(false)
                ?? throw new ArgumentException($"There is no user '{name}'.");
            if (await _records.TryRemoveAsync(name, revision, cancellationToken).ConfigureAwait(false))
                return;
        }
        throw new IOException($"User '{name}' kept changing under another administrator; it was not removed. Try again.");
    }

    public ValueTask DisposeAsync() => buckets.DisposeAsync();

    /// <summary>Connects to the store's cluster; a malformed address is an <see cref="ArgumentException"/>, an unusable cluster an <see cref="IOException"/>.</summary>
    internal static async Task<NatsUserAdministration> ConnectAsync(Hosting.NatsStoreSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Problems() is [var (key, problem), ..])
            throw new ArgumentException($"{key}: {problem}");
        NatsStoreOptions options;
        try
        {
            options = NatsStoreOptions.From(settings);
        }
        catch (FerryException ex)
        {
            throw new ArgumentException(ex.Message, ex);
        }
        try
        {
            return new NatsUserAdministration(await NatsBuckets.OpenAsync(options, cancellationToken).ConfigureAwait(false), $"the NATS bucket {options.UsersBucket} at {options.Url}");
        }
        catch (FerryException ex)
        {
            throw new IOException(ex.Message, ex);
        }
    }
}
