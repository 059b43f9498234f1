using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Storage;

/// <summary>
/// The one seam between the file handlers and where files live. Paths are already normalized by
/// <see cref="RemotePath.Normalize"/>; an implementation still owns containment (symbolic links, reserved names).
/// Errors are <c>FerryException</c>s with file codes (not_found, already_exists, path_escapes_root, disk_full, ...).
/// Stores are handed out by the <see cref="IFileStoreProvider"/> chosen at start-up; handlers see only this contract and,
/// where they can use them, the optional abilities a store may add (<see cref="ILocalFolderStore"/> for commands,
/// <see cref="ILocalFileAccess"/> on its files). Quotas, upload staging and commit are the store's own business.
/// </summary>
internal interface IFileStore
{
    /// <summary>Which files these are (a root folder, a bucket and home), unique among the server's stores: logs and per-store caches are keyed by it.</summary>
    string Description { get; }

    /// <summary>The entry at <paramref name="path"/>, or null when nothing is there.</summary>
    ValueTask<StoreEntry?> StatAsync(string path, CancellationToken cancellationToken);

    /// <summary>A directory's entries sorted by name (or the single entry of a file); recursive lists the tree, parents first.</summary>
    ValueTask<IReadOnlyList<StoreEntry>> ListAsync(string path, bool recursive, CancellationToken cancellationToken);

    ValueTask CreateDirectoryAsync(string path, bool parents, CancellationToken cancellationToken);

    ValueTask DeleteAsync(string path, bool recursive, CancellationToken cancellationToken);

    ValueTask MoveAsync(string from, string to, bool force, CancellationToken cancellationToken);

    /// <summary>Opens a file for reading; the returned reader fixes the length at open time.</summary>
    ValueTask<IStoredFile> OpenReadAsync(string path, CancellationToken cancellationToken);

    /// <summary>
    /// Starts (or with <see cref="UploadRequest.Resume"/>, continues) an upload into a temporary object that becomes
    /// visible under <see cref="UploadRequest.Path"/> only on <see cref="IUpload.CommitAsync"/>.
    /// </summary>
    ValueTask<IUpload> BeginUploadAsync(UploadRequest request, CancellationToken cancellationToken);

    /// <summary>Sets the permission bits (masked to 0o777) and/or the modification time of an entry; a link only gets its own time (§5.9.5).</summary>
    ValueTask SetAttributesAsync(string path, int? mode, long? modifiedNs, CancellationToken cancellationToken);

    /// <summary>Creates a symbolic link to a relative target that stays inside the root; <paramref name="force"/> replaces a file or link, never a folder.</summary>
    ValueTask CreateSymlinkAsync(string path, string target, bool force, CancellationToken cancellationToken);

    /// <summary>
    /// The tree at <paramref name="path"/> in scan order (§5.9.1), given to <paramref name="emit"/> entry by entry; more
    /// than <paramref name="maxEntries"/> entries is field_invalid. <paramref name="hashFile"/>, when given, hashes each
    /// regular file, open for reading as the scan found it; a file it cannot read gets no hash.
    /// </summary>
    ValueTask ScanAsync(string path, int maxEntries, Func<IStoredFile, CancellationToken, ValueTask<string?>>? hashFile,
        Func<ScanEntry, ValueTask> emit, CancellationToken cancellationToken);

    /// <summary>Whether the name <paramref name="path"/> itself is a symbolic link (the last name is not followed); false when missing.</summary>
    bool IsSymbolicLink(string path);

    /// <summary>The partial upload kept for <paramref name="path"/>, open for reading (a delta put reuses it), or null.</summary>
    IStoredFile? OpenKeptPart(string path);
}
