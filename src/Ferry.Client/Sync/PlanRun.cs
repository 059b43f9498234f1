using Ferry.Protocol.Errors;

namespace Ferry.Client.Sync;

/// <summary>
/// Carries out one plan, step by step in plan order (the files of a phase go as one pipelined batch, and their lines are
/// released in plan order as they finish). Failures are collected and the run goes on; deletions are skipped as soon as
/// anything has failed.
/// </summary>
internal sealed class PlanRun(SyncEngine engine, SyncRequest request, string localRoot, ISyncObserver observer, List<SyncProblem> errors)
{
    private readonly bool _push = request.Direction == SyncDirection.Push;
    private readonly Dictionary<string, string> _failedDeletes = new(StringComparer.Ordinal); // path → error code

    public int FilesChanged { get; private set; }
    public int Deleted { get; private set; }
    public int ItemsDone { get; private set; }
    public long BytesSent { get; private set; }
    public long BytesReused { get; private set; }
    public bool DeleteSkipped { get; private set; }

    public async Task ExecuteAsync(SyncPlan plan, CancellationToken cancellationToken)
    {
        var actions = plan.Actions;
        for (var i = 0; i < actions.Count;)
        {
            if (actions[i].Kind == SyncActionKind.TransferFile)
            {
                var end = i;
                while (end < actions.Count && actions[end].Kind == SyncActionKind.TransferFile)
                    end++;
                await TransferAsync(actions.Skip(i).Take(end - i).ToList(), cancellationToken).ConfigureAwait(false);
                i = end;
                continue;
            }
            if (_push && NewFolder(actions[i]))
            {
                // New folders go pipelined, not a round trip each: a fresh tree has about one for every few files.
                var end = i;
                while (end < actions.Count && NewFolder(actions[end]))
                    end++;
                await MakeDirectoriesAsync(actions.Skip(i).Take(end - i).ToList(), cancellationToken).ConfigureAwait(false);
                i = end;
                continue;
            }
            var action = actions[i++];
            if (action.Kind == SyncActionKind.Delete && errors.Count > 0)
            {
                DeleteSkipped = true;
                continue;
            }
            try
            {
                await ApplyAsync(action, cancellationToken).ConfigureAwait(false);
            }
            catch (FerryRemoteException ex)
            {
                Fail(action, ex.WireCode, ex.Message);
                continue;
            }
            catch (Exception ex) when (!_push && ex is IOException or UnauthorizedAccessException)
            {
                Fail(action, "local_io", ex.Message);
                continue;
            }
            if (action.Kind == SyncActionKind.Delete)
                Deleted++;
            Report(action);
        }
    }

    private static bool NewFolder(SyncAction action) => action.Kind == SyncActionKind.MakeDirectory && !action.ReplacesEntry;

    private async Task MakeDirectoriesAsync(List<SyncAction> folders, CancellationToken cancellationToken)
    {
        var failed = (await engine.Remote.MakeDirectoriesAsync(folders.Select(a => RemotePath(a.Path)).ToList(), cancellationToken).ConfigureAwait(false))
            .GroupBy(f => f.Path, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Error, StringComparer.Ordinal);
        foreach (var action in folders)
        {
            if (failed.TryGetValue(Ferry.Protocol.Files.RemotePath.Normalize(RemotePath(action.Path)), out var error))
                Fail(action, error is FerryRemoteException remote ? remote.WireCode : error.Code.ToWire(), error.Message);
            else
                Report(action);
        }
    }

    private void Fail(SyncAction action, string code, string message)
    {
        if (action.Kind == SyncActionKind.Delete)
            _failedDeletes[action.Path] = code;
        var problem = new SyncProblem(action.Path, code, message);
        errors.Add(problem);
        observer.Failed(problem);
    }

    private void Report(SyncAction action)
    {
        if (!action.Itemized)
            return;
        ItemsDone++;
        observer.Done(action);
    }

    private string RemotePath(string relative) => SyncPaths.Join(request.RemoteRoot, relative);

    private string LocalPath(string relative) => LocalTreeScanner.FullPath(localRoot, relative);

    private async Task ApplyAsync(SyncAction action, CancellationToken cancellationToken)
    {
        switch (action.Kind)
        {
            case SyncActionKind.MakeDirectory:
                if (_push)
                {
                    if (action.ReplacesEntry)
                        await engine.Remote.RemoveAsync(RemotePath(action.Path), recursive: false, cancellationToken).ConfigureAwait(false);
                    await engine.Remote.MakeDirectoryAsync(RemotePath(action.Path), cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    var path = LocalPath(action.Path);
                    if (action.ReplacesEntry)
                        File.Delete(path); // a file or link (never a folder: that would not need replacing)
                    Directory.CreateDirectory(path);
                }
                break;
            case SyncActionKind.CreateLink:
                if (_push)
                {
                    await engine.Remote.CreateSymlinkAsync(RemotePath(action.Path), action.Target!, cancellationToken).ConfigureAwait(false);
                    if (action.ModifiedNs is { } linkTime)
                        await engine.Remote.SetAttributesAsync(RemotePath(action.Path), null, linkTime, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    var path = LocalPath(action.Path);
                    if (LocalEntryStat.Read(path, action.Path) is { Type: not Ferry.Protocol.Messages.ScanEntryTypes.Directory })
                        File.Delete(path);
                    File.CreateSymbolicLink(path, action.Target!);
                    if (action.ModifiedNs is { } linkTime)
                        LocalEntryStat.SetModifiedTime(path, linkTime);
                }
                break;
            case SyncActionKind.SetAttributes:
                if (_push)
                {
                    await engine.Remote.SetAttributesAsync(RemotePath(action.Path), action.Mode, action.ModifiedNs, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    var path = LocalPath(action.Path);
                    if (action.Mode is { } mode && !OperatingSystem.IsWindows())
                        File.SetUnixFileMode(path, (UnixFileMode)mode);
                    if (action.ModifiedNs is { } time)
                        LocalEntryStat.SetModifiedTime(path, time);
                }
                break;
            case SyncActionKind.Delete:
                // Everything below a deleted folder goes with it; the folder's own failure is its entries' failure too.
                if (action.RemovedWithParent)
                {
                    if (_failedDeletes.TryGetValue(SyncPaths.Parent(action.Path), out var code))
                        throw new FerryRemoteException(FerryErrorCodes.FromWire(code), code, $"'{action.Path}' was not removed: its folder could not be.");
                    break;
                }
                if (_push)
                {
                    await engine.Remote.RemoveAsync(RemotePath(action.Path), action.IsDirectory, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    var path = LocalPath(action.Path);
                    if (action.IsDirectory)
                        Directory.Delete(path, recursive: true); // does not follow links inside: they are removed as links
                    else
                        File.Delete(path);
                }
                break;
            default:
                throw new InvalidOperationException($"{action.Kind} is not applied one by one.");
        }
    }

    /// <summary>Sends one phase's files as one batch; lines come out in plan order as the files finish.</summary>
    private async Task TransferAsync(List<SyncAction> transfers, CancellationToken cancellationToken)
    {
        var release = new OrderedRelease(transfers, observer, _push ? RemotePath : LocalPath);
        IReadOnlyList<FileSyncOutcome> outcomes;
        if (_push)
        {
            var files = transfers.Select(a => new FilePush(LocalPath(a.Path), RemotePath(a.Path), a.Size, a.Mode ?? DefaultFileMode, a.ModifiedNs ?? 0,
                [.. a.Basis.Select(RemotePath)], a.BasisSize)).ToList();
            outcomes = await engine.Remote.PushFilesAsync(files, request.Transfer, release, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var files = transfers.Select(a => new FilePull(RemotePath(a.Path), LocalPath(a.Path), a.Size, a.Mode ?? DefaultFileMode, a.ModifiedNs ?? 0,
                [.. a.Basis.Select(LocalPath)], a.BasisSize)).ToList();
            outcomes = await engine.Remote.PullFilesAsync(files, request.Transfer, release, cancellationToken).ConfigureAwait(false);
        }
        if (outcomes.Count != transfers.Count)
            throw new FerryException(FerryErrorCode.UnexpectedFrame, $"The transfer of {transfers.Count} files reported {outcomes.Count} outcomes.");
        // The outcomes are authoritative: release whatever the observer calls did not (an implementation may not call them all).
        for (var i = 0; i < outcomes.Count; i++)
        {
            release.Finish(i, outcomes[i]);
            var outcome = outcomes[i];
            BytesSent += outcome.BytesSent;
            BytesReused += outcome.BytesReused;
            if (outcome.Succeeded)
            {
                FilesChanged++;
                ItemsDone++;
            }
            else
            {
                errors.Add(new SyncProblem(transfers[i].Path, outcome.ErrorCode!, outcome.ErrorMessage ?? outcome.ErrorCode!));
            }
        }
    }

    private const int DefaultFileMode = 0x1A4; // 0644, when the source has no permission bits (Windows)
}
