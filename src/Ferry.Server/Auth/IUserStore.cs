namespace Ferry.Server.Auth;

/// <summary>
/// Where the server's users come from, chosen at start-up (the users file by default). Logins, the per-command permission
/// check and the home each user's files live in all read it; it never hands out files itself (see
/// <c>IFileStoreProvider</c>).
/// </summary>
public interface IUserStore
{
    /// <summary>Where the users come from, for the log (the users file's path, a NATS bucket).</summary>
    string Description { get; }

    /// <summary>How many users there are now.</summary>
    int Count { get; }

    /// <summary>
    /// Goes up each time the users change: a session that logged in under an older generation looks its user up anew
    /// before its next command (removed users and taken permissions reach open connections).
    /// </summary>
    int Generation { get; }

    /// <summary>The user called <paramref name="name"/> as the store holds it now.</summary>
    bool TryGet(string name, out UserAccount account);

    /// <summary>Every user as the store holds them now (a snapshot).</summary>
    IReadOnlyCollection<UserAccount> All { get; }
}
