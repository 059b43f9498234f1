namespace Ferry.Server.Auth;

/// <summary>
/// The users of a user store, and the records in it that could not be read. A store of one file is read whole or not at
/// all, so only a store of separate records (NATS) can have <see cref="Unreadable"/> ones; one bad record must not hide the
/// others from an administrator, nor keep them from removing it.
/// </summary>
public sealed record UserListing(IReadOnlyList<UserAccount> Users, IReadOnlyList<UnreadableUserRecord> Unreadable);
