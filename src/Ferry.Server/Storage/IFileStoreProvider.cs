using Ferry.Server.Auth;

namespace Ferry.Server.Storage;

/// <summary>
/// Hands each session the store its files live in, and keeps house across all of them. Chosen at start-up and registered
/// in the server's services (<c>AddFerryServer</c> registers the local file system unless another provider is registered
/// first): logins, the dispatcher and the UDP command service all ask it, so a replacement reaches every user.
/// </summary>
internal interface IFileStoreProvider
{
    /// <summary>
    /// The store of <paramref name="user"/>'s home, as the account says now (home, quota, owner). All of a user's sessions
    /// share one store while those stay the same, so that quotas and upload locks hold across connections; a changed quota
    /// applies to the store in use.
    /// </summary>
    IFileStore ForUser(UserAccount user);

    /// <summary>The one store of a server without logins (<c>--insecure-no-auth</c>): the data root.</summary>
    IFileStore ForEveryone();

    /// <summary>
    /// Deletes partial uploads last written before <paramref name="cutoff"/> in every home the provider knows (also homes
    /// no session opened yet), never the part of an upload in progress; returns how many were deleted and in how many places.
    /// </summary>
    ValueTask<(int Deleted, int Places)> SweepPartialUploadsAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}
