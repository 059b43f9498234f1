using Ferry.Protocol.Files;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Storage;

/// <summary>
/// The one seam between the file handlers and where files live. Paths are already normalized by
/// <see cref="RemotePath.Normalize"/>; an implementation still owns containment (symbolic links, reserved names).
/// Errors are <c>FerryException</c>s with file codes (not_found, already_exists, path_escapes_root, disk_full, ...).
/// The local file system is the first implementation; a replicated object store is planned.
/// </summary>
public interface IFileStore
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
}

/// <summary>What an upload is: target, size, checksum, and whether it may replace or resume.</summary>
/// <param name="ConcurrentWrites">Ranges may arrive from several connections at once: no running hash, the commit re-reads the file.</param>
public sealed record UploadRequest(string Path, long Size, ChecksumAlgorithm Checksum, bool Force, bool Resume, DateTimeOffset? ModifiedTime, int ChunkSize,
    bool ConcurrentWrites = false);

/// <summary>An open file to read from.</summary>
public interface IStoredFile : IAsyncDisposable
{
    long Length { get; }
    DateTimeOffset ModifiedTime { get; }

    ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken);

    /// <summary>The OS handle when the store is the local file system (for zero-copy sends), else null.</summary>
    Microsoft.Win32.SafeHandles.SafeFileHandle? LocalHandle { get; }
}

/// <summary>An upload in progress.</summary>
public interface IUpload : IAsyncDisposable
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
}
