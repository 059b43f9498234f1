using Ferry.Protocol.Messages;

namespace Ferry.Client.Sync;

/// <summary>Placeholder for the <see cref="IRemoteTree"/> over a <see cref="FerryClient"/>; replaced by the real implementation.</summary>
public sealed class RemoteTree(FerryClient client) : IRemoteTree
{
    public FerryClient Client { get; } = client;

    public Task<IReadOnlyList<ScanEntry>?> ScanAsync(string path, bool hashes, CancellationToken cancellationToken) => throw new NotImplementedException();

    public Task MakeDirectoryAsync(string path, CancellationToken cancellationToken) => throw new NotImplementedException();

    public Task SetAttributesAsync(string path, int? mode, long? modifiedNs, CancellationToken cancellationToken) => throw new NotImplementedException();

    public Task CreateSymlinkAsync(string path, string target, CancellationToken cancellationToken) => throw new NotImplementedException();

    public Task RemoveAsync(string path, bool recursive, CancellationToken cancellationToken) => throw new NotImplementedException();

    public Task<IReadOnlyList<FileSyncOutcome>> PushFilesAsync(IReadOnlyList<FilePush> files, FileSyncOptions options, IFileSyncObserver observer,
        CancellationToken cancellationToken) => throw new NotImplementedException();

    public Task<IReadOnlyList<FileSyncOutcome>> PullFilesAsync(IReadOnlyList<FilePull> files, FileSyncOptions options, IFileSyncObserver observer,
        CancellationToken cancellationToken) => throw new NotImplementedException();
}
