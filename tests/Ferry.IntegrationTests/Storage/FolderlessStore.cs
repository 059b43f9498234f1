using Ferry.Protocol.Messages;
using Ferry.Server.Storage;

namespace Ferry.IntegrationTests.Storage;

/// <summary>
/// A store with nothing local about it, as a store whose files live elsewhere looks to the handlers: it passes every file
/// operation to a real local store but offers no folders to run commands in, and its files no descriptor
/// (<see cref="OpaqueStoredFile"/>). It counts the operations that reach it, so a test can tell it was really used.
/// </summary>
internal sealed class FolderlessStore(IFileStore inner) : IFileStore
{
    private int _operations;

    /// <summary>How many operations reached this store.</summary>
    public int Operations => Volatile.Read(ref _operations);

    public string Description => "folderless:" + inner.Description;

    /// <summary>The real store, counting the operation about to be passed to it.</summary>
    private IFileStore Inner
    {
        get
        {
            Interlocked.Increment(ref _operations);
            return inner;
        }
    }

    public ValueTask<StoreEntry?> StatAsync(string path, CancellationToken cancellationToken) => Inner.StatAsync(path, cancellationToken);

    public ValueTask<IReadOnlyList<StoreEntry>> ListAsync(string path, bool recursive, CancellationToken cancellationToken) =>
        Inner.ListAsync(path, recursive, cancellationToken);

    public ValueTask CreateDirectoryAsync(string path, bool parents, CancellationToken cancellationToken) =>
        Inner.CreateDirectoryAsync(path, parents, cancellationToken);

    public ValueTask DeleteAsync(string path, bool recursive, CancellationToken cancellationToken) => Inner.DeleteAsync(path, recursive, cancellationToken);

    public ValueTask MoveAsync(string from, string to, bool force, CancellationToken cancellationToken) => Inner.MoveAsync(from, to, force, cancellationToken);

    public async ValueTask<IStoredFile> OpenReadAsync(string path, CancellationToken cancellationToken) =>
        new OpaqueStoredFile(await Inner.OpenReadAsync(path, cancellationToken).ConfigureAwait(false));

    public ValueTask<IUpload> BeginUploadAsync(UploadRequest request, CancellationToken cancellationToken) => Inner.BeginUploadAsync(request, cancellationToken);

    public ValueTask SetAttributesAsync(string path, int? mode, long? modifiedNs, CancellationToken cancellationToken) =>
        Inner.SetAttributesAsync(path, mode, modifiedNs, cancellationToken);

    public ValueTask CreateSymlinkAsync(string path, string target, bool force, CancellationToken cancellationToken) =>
        Inner.CreateSymlinkAsync(path, target, force, cancellationToken);

    public ValueTask ScanAsync(string path, int maxEntries, Func<IStoredFile, CancellationToken, ValueTask<string?>>? hashFile, Func<ScanEntry, ValueTask> emit,
        CancellationToken cancellationToken) =>
        Inner.ScanAsync(path, maxEntries, hashFile is null ? null : (file, ct) => hashFile(new OpaqueStoredFile(file, owned: false), ct), emit, cancellationToken);

    public bool IsSymbolicLink(string path) => Inner.IsSymbolicLink(path);

    public IStoredFile? OpenKeptPart(string path) => Inner.OpenKeptPart(path) is { } kept ? new OpaqueStoredFile(kept) : null;
}
