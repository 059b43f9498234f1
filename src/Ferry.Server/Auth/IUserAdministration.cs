namespace Ferry.Server.Auth;

/// <summary>
/// Changing the users where a server reads them (<c>ferry user</c>): the users file, or the users bucket of a NATS store.
/// Refusals are <see cref="ArgumentException"/>s with a message for the administrator; a store that cannot be read is
/// <see cref="InvalidDataException"/> or <see cref="IOException"/>.
/// </summary>
public interface IUserAdministration : IAsyncDisposable
{
    /// <summary>Where the users are (a path, a bucket), for messages.</summary>
    string Description { get; }

    /// <summary>The users, and any record that could not be read (which no server lets log in).</summary>
    Task<UserListing> ListAsync(CancellationToken cancellationToken);

    /// <summary>Adds <paramref name="user"/>; an existing name is refused.</summary>
    Task AddAsync(UserAccount user, CancellationToken cancellationToken);

    /// <summary>Applies <paramref name="change"/> to the user called <paramref name="name"/> and returns the result; a missing user is refused.</summary>
    Task<UserAccount> UpdateAsync(string name, Func<UserAccount, UserAccount> change, CancellationToken cancellationToken);

    /// <summary>Removes the user called <paramref name="name"/>, also when their record cannot be read; a missing user is refused.</summary>
    Task RemoveAsync(string name, CancellationToken cancellationToken);
}
