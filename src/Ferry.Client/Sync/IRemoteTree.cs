using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;

namespace Ferry.Client.Sync;

/// <summary>
/// The remote side of a synchronization as the sync engine uses it (docs/protocol.md §5.9): one tree under the user's
/// home on one server. Paths are remote paths (§5.1). Every method throws <see cref="Protocol.Errors.FerryRemoteException"/>
/// for a refusal that concerns the whole call; the batch transfers report per-file failures in their outcomes instead.
/// </summary>
internal interface IRemoteTree
{
    /// <summary>Every entry below <paramref name="path"/> (§5.9.1), or null when nothing is there.</summary>
    Task<IReadOnlyList<ScanEntry>?> ScanAsync(string path, bool hashes, CancellationToken cancellationToken);

    /// <summary>Creates the folder and any missing parents; an existing folder is fine.</summary>
    Task MakeDirectoryAsync(string path, CancellationToken cancellationToken);

    /// <summary>Creates every folder as <see cref="MakeDirectoryAsync"/> does, pipelined; returns those that failed, with their errors.</summary>
    Task<List<(string Path, FerryException Error)>> MakeDirectoriesAsync(IReadOnlyList<string> paths, CancellationToken cancellationToken);

    /// <summary>Sets mode and/or modification time (§5.9.5); at least one is given.</summary>
    Task SetAttributesAsync(string path, int? mode, long? modifiedNs, CancellationToken cancellationToken);

    /// <summary>Creates (or replaces a file or link with) a symbolic link to the relative <paramref name="target"/>.</summary>
    Task CreateSymlinkAsync(string path, string target, CancellationToken cancellationToken);

    /// <summary>Removes a file, a link, or with <paramref name="recursive"/> a folder and all it holds.</summary>
    Task RemoveAsync(string path, bool recursive, CancellationToken cancellationToken);

    /// <summary>
    /// Sends local files to the server: small files whole and pipelined, changed large files as deltas against their
    /// bases (§5.9.3), each committed atomically with its mode and modification time. One outcome per file, in order.
    /// </summary>
    Task<IReadOnlyList<FileSyncOutcome>> PushFilesAsync(IReadOnlyList<FilePush> files, FileSyncOptions options,
        IFileSyncObserver observer, CancellationToken cancellationToken);

    /// <summary>
    /// Fetches remote files: small files whole, changed large files as deltas against local bases (§5.9.2), each
    /// written to a temporary file, checked against the server's hash and renamed into place with its mode and time.
    /// </summary>
    Task<IReadOnlyList<FileSyncOutcome>> PullFilesAsync(IReadOnlyList<FilePull> files, FileSyncOptions options,
        IFileSyncObserver observer, CancellationToken cancellationToken);
}
