using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Storage;

/// <summary>
/// The one seam between the file handlers and where files live. Paths are already normalized by
/// <see cref="RemotePath.Normalize"/>; an implementation still owns containment (symbolic links, reserved names).
/// Errors are <c>FerryException</c>s with file codes (not_found, already_exists, path_escapes_root, disk_full, ...).
/// The local file system is the first implementation; a replicated object store is planned.
/// </summary>
internal interface IFileStore
{
    /// <summary>Where the files are, for logs.</summary>
    string Description { get; }

    /// <summary>The entry at <paramref name="path"/>, or null when nothing is there.</summary>
    ValueTask<FileEntry?> StatAsync(string path, CancellationToken cancellationToken);

    /// <summary>A directory's entries sorted by name (or the single entry of a file); recursive lists the tree, parents first.</summary>
    ValueTask<IReadOnlyList<FileEntry>> ListAsync(string path, bool recursive, CancellationToken cancellationToken);

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

    /// <summary>
    /// The local folder behind <paramref name="path"/>, checked like any other path, for running commands in; null when
    /// the store has no local folders.
    /// </summary>
    string? LocalDirectory(string path);

    /// <summary>Deletes partial uploads older than <paramref name="maxAge"/>; returns how many.</summary>
    int SweepPartialUploads(TimeSpan maxAge);

    /// <summary>Sets the permission bits (masked to 0o777) and/or the modification time of an entry; a link only gets its own time (§5.9.5).</summary>
    ValueTask SetAttributesAsync(string path, int? mode, long? modifiedNs, CancellationToken cancellationToken);

    /// <summary>Creates a symbolic link to a relative target that stays inside the root; <paramref name="force"/> replaces a file or link, never a folder.</summary>
    ValueTask CreateSymlinkAsync(string path, string target, bool force, CancellationToken cancellationToken);

    /// <summary>
    /// The tree at <paramref name="path"/> in scan order (§5.9.1), given to <paramref name="emit"/> entry by entry; more
    /// than <paramref name="maxEntries"/> entries is field_invalid.
    /// </summary>
    ValueTask ScanAsync(string path, int maxEntries, Func<Microsoft.Win32.SafeHandles.SafeFileHandle, CancellationToken, ValueTask<string?>>? hashFile,
        Func<ScanEntry, ValueTask> emit, CancellationToken cancellationToken);

    /// <summary>Whether the name <paramref name="path"/> itself is a symbolic link (the last name is not followed); false when missing.</summary>
    bool IsSymbolicLink(string path);

    /// <summary>The partial upload kept for <paramref name="path"/>, open for reading (a delta put reuses it), or null.</summary>
    Microsoft.Win32.SafeHandles.SafeFileHandle? OpenKeptPart(string path);
}

/// <summary>What an upload is: target, size, checksum, and whether it may replace or resume.</summary>
/// <param name="ConcurrentWrites">Ranges may arrive from several connections at once: no running hash, the commit re-reads the file.</param>
/// <param name="Mode">Permission bits to give the file before it is renamed into place (masked to 0o777; §5.9.3).</param>
/// <param name="ModifiedNs">Modification time in nanoseconds since the epoch, instead of <paramref name="ModifiedTime"/>.</param>
internal sealed record UploadRequest(string Path, long Size, ChecksumAlgorithm Checksum, bool Force, bool Resume, DateTimeOffset? ModifiedTime, int ChunkSize,
    bool ConcurrentWrites = false, int? Mode = null, long? ModifiedNs = null);

/// <summary>An open file to read from.</summary>
internal interface IStoredFile : IAsyncDisposable
{
    long Length { get; }
    DateTimeOffset ModifiedTime { get; }

    ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken);

    /// <summary>The OS handle when the store is the local file system (for zero-copy sends), else null.</summary>
    Microsoft.Win32.SafeHandles.SafeFileHandle? LocalHandle { get; }
}

/// <summary>An upload in progress.</summary>
internal interface IUpload : IAsyncDisposable
{
    UploadRequest Request { get; }

    /// <summary>Bytes already held from an earlier attempt (whole chunks); 0 for a fresh upload.</summary>
    long ResumeOffset { get; }

    /// <summary>Hashes of the chunks in [0, <see cref="ResumeOffset"/>), concatenated.</summary>
    ReadOnlyMemory<byte> ResumeChunkHashes { get; }

    ValueTask WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken cancellationToken);

    /// <summary>Writes several buffers at <paramref name="offset"/> in one call (a gather write where the store has one).</summary>
    ValueTask WriteAsync(System.Buffers.ReadOnlySequence<byte> data, long offset, CancellationToken cancellationToken);

    /// <summary>
    /// Verifies the assembled file against <paramref name="expectedHash"/> and makes it visible under its final name.
    /// Returns the hash. On mismatch throws checksum_mismatch and discards the data.
    /// </summary>
    ValueTask<byte[]> CommitAsync(byte[]? expectedHash, CancellationToken cancellationToken);

    /// <summary>Ends without committing; <paramref name="keepForResume"/> keeps the data for a later resume.</summary>
    ValueTask AbortAsync(bool keepForResume);

    /// <summary>Reads back bytes already written (a delta put copies repeated chunks within the new file, §5.9.3).</summary>
    ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken) =>
        throw new FerryException(FerryErrorCode.IoError, "This upload cannot be read back.");
}
