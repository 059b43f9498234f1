using System.Text.Json;
using Ferry.Server.Auth;
using NATS.Client.Core;
using NATS.Client.KeyValueStore;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// The users bucket as records: read, add (create-only, so two administrators adding one name cannot both win), change
/// (compare-and-set against the revision read) and remove. Each value is checked as strictly as a users-file entry.
/// </summary>
internal sealed class NatsUserRecords(INatsKVStore users)
{
    private static readonly NatsRawSerializer<byte[]> s_raw = NatsRawSerializer<byte[]>.Default;

    public static string KeyOf(string name) => NatsKeys.Token(name);

    /// <summary>A value as an account; <paramref name="key"/> names it in the message when it is malformed.</summary>
    public static UserAccount Decode(string key, byte[] value)
    {
        UsersFile.UserEntry? entry;
        try
        {
            entry = JsonSerializer.Deserialize(value, UsersJsonContext.Default.UserEntry);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The NATS user record {key} is not valid JSON ({ex.Message}).", ex);
        }
        var account = UsersFile.ToAccount(entry ?? new UsersFile.UserEntry(), $"The NATS user record {key}");
        if (KeyOf(account.Name) != key)
            throw new InvalidDataException($"The NATS user record {key} names another user ('{account.Name}').");
        return account;
    }

    public static byte[] Encode(UserAccount user) => JsonSerializer.SerializeToUtf8Bytes(UsersFile.ToEntry(user), UsersJsonContext.Default.UserEntry);

    /// <summary>Every record, read; one that cannot be read is listed apart with its reason, as a server skips it.</summary>
    public async Task<UserListing> ListAsync(CancellationToken cancellationToken)
    {
        var accounts = new List<UserAccount>();
        var unreadable = new List<UnreadableUserRecord>();
        foreach (var (key, value, _) in await NatsBuckets.ReadAllAsync(users, ">", cancellationToken).ConfigureAwait(false))
        {
            try
            {
                accounts.Add(Decode(key, value));
            }
            catch (InvalidDataException ex)
            {
                unreadable.Add(new UnreadableUserRecord(key, NameOf(key), ex.Message));
            }
        }
        return new UserListing(accounts.OrderBy(u => u.Name, StringComparer.Ordinal).ToList(), unreadable.OrderBy(r => r.Key, StringComparer.Ordinal).ToList());
    }

    /// <summary>The user name a key is for, when it is the key of a valid name.</summary>
    private static string? NameOf(string key)
    {
        try
        {
            var name = NatsKeys.NameOf(key);
            return UserAccount.IsValidName(name) && KeyOf(name) == key ? name : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>The revision of the user's record, without reading it; null when there is none.</summary>
    public async Task<ulong?> GetRevisionAsync(string name, CancellationToken cancellationToken)
    {
        var result = await users.TryGetEntryAsync(KeyOf(name), serializer: s_raw, cancellationToken: cancellationToken).ConfigureAwait(false);
        return result.Success && result.Value.Value is { Length: > 0 } ? result.Value.Revision : null;
    }

    public async Task<(UserAccount User, ulong Revision)?> GetAsync(string name, CancellationToken cancellationToken)
    {
        var result = await users.TryGetEntryAsync(KeyOf(name), serializer: s_raw, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!result.Success || result.Value.Value is not { Length: > 0 } value)
            return null;
        return (Decode(result.Value.Key, value), result.Value.Revision);
    }

    /// <summary>Adds <paramref name="user"/>; false when the name is taken.</summary>
    public async Task<bool> TryAddAsync(UserAccount user, CancellationToken cancellationToken) =>
        (await users.TryCreateAsync(KeyOf(user.Name), Encode(user), s_raw, cancellationToken).ConfigureAwait(false)).Success;

    /// <summary>Replaces the user if the record is still at <paramref name="revision"/>; false when it changed meanwhile.</summary>
    public async Task<bool> TryUpdateAsync(UserAccount user, ulong revision, CancellationToken cancellationToken) =>
        (await users.TryUpdateAsync(KeyOf(user.Name), Encode(user), revision, s_raw, cancellationToken).ConfigureAwait(false)).Success;

    /// <summary>Removes the user if the record is still at <paramref name="revision"/>.</summary>
    public async Task<bool> TryRemoveAsync(string name, ulong revision, CancellationToken cancellationToken) =>
        (await users.TryDeleteAsync(KeyOf(name), new NatsKVDeleteOpts { Revision = revision }, cancellationToken).ConfigureAwait(false)).Success;
}
