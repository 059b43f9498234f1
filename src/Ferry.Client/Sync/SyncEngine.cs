using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;
using Ferry.Sync.Caching;
using Ferry.Sync.Filtering;

namespace Ferry.Client.Sync;

/// <summary>
/// Runs a sync: lists both sides, plans (<see cref="SyncPlanner"/>) and carries the plan out, the remote side through
/// <see cref="IRemoteTree"/> (docs/protocol.md §5.9) and the local side with file-system calls.
/// </summary>
/// <remarks>
/// Safety: deletions come last and only when every earlier step succeeded and both listings were read whole; a dry run
/// reports the same steps in the same order as the real run and changes nothing; a remote listing is validated
/// (<see cref="ScanValidator"/>) before anything acts on it; two sides that are one tree (one inside the other) are
/// refused (<see cref="NestedTreeCheck"/>).
/// </remarks>
internal sealed class SyncEngine(IRemoteTree remote)
{
    private readonly IRemoteTree _remote = remote ?? throw new ArgumentNullException(nameof(remote));

    /// <summary>Runs <paramref name="request"/>, telling <paramref name="observer"/> each step.</summary>
    /// <exception cref="FerryException">A side is missing or not a folder, the sides are one tree, or the server refused the scan.</exception>
    public async Task<SyncReport> RunAsync(SyncRequest request, ISyncObserver observer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(observer);
        var localRoot = Path.GetFullPath(request.LocalRoot);
        var push = request.Direction == SyncDirection.Push;

        // The local side.
        var localExists = Directory.Exists(localRoot);
        if (!localExists && (push || File.Exists(localRoot)))
        {
            throw File.Exists(localRoot)
                ? new FerryException(FerryErrorCode.NotADirectory, $"'{request.LocalRoot}' is a file; a sync mirrors the contents of a folder.")
                : new FerryException(FerryErrorCode.NotFound, $"'{request.LocalRoot}' does not exist.");
        }
        // Both sides are scanned at once: the server walks its tree while this side walks the local one.
        var remoteScan = _remote.ScanAsync(request.RemoteRoot, request.Checksum, cancellationToken);
        SyncListing local;
        try
        {
            local = localExists
                ? await LocalTreeScanner.ScanAsync(localRoot, request.Filter, cancellationToken).ConfigureAwait(false)
                : new SyncListing([], new HashSet<string>(StringComparer.Ordinal), []);
        }
        catch
        {
            // The scan's reply is read to its end before the error goes up, so the connection stays usable.
            try { await remoteScan.ConfigureAwait(false); }
            catch (Exception) { }
            throw;
        }

        // The remote side, filtered with the local side's .ferryignore files (the only ones this side can read; a pull
        // brings the source's files along, so the two agree from the second run on).
        var scanned = await remoteScan.ConfigureAwait(false);
        if (scanned is null && !push)
            throw new FerryException(FerryErrorCode.NotFound, $"'{request.RemoteRoot}' does not exist on the server.");
        if (scanned is [{ Name: "" }])
            throw new FerryException(FerryErrorCode.NotADirectory, $"'{request.RemoteRoot}' is a file on the server; a sync mirrors the contents of a folder.");
        ScanValidator.Validate(scanned ?? []);
        // The local scan read them (and no others exist in the folders it listed): the same rules, not read twice.
        var remoteListing = await ListingFilter.ApplyAsync(scanned ?? [], request.Filter,
            (folder, _) => Task.FromResult(local.IgnoreFiles.GetValueOrDefault(folder)),
            cancellationToken).ConfigureAwait(false);

        var (source, destination) = push ? (local, remoteListing) : (remoteListing, local);
        var sourceEntries = source.Entries;
        var destinationEntries = destination.Entries;
        if (request.Checksum)
        {
            var hashed = await HashLocalFilesAsync(local.Entries, remoteListing.Entries, localRoot, request.Transfer.LocalDigester, cancellationToken).ConfigureAwait(false);
            if (push)
                sourceEntries = hashed;
            else
                destinationEntries = hashed;
        }

        if (NestedTreeCheck.FindNested(sourceEntries, destinationEntries) is { } nested)
            throw new FerryException(FerryErrorCode.PathInvalid,
                $"'{Ferry.Protocol.Text.ControlCharacters.Escape(nested)}' on one side holds exactly what the other side holds: the source and the destination look like one tree seen twice (the server runs on this machine and one folder lies inside the other). Nothing was changed.");

        var plan = SyncPlanner.Plan(sourceEntries, destinationEntries, new SyncPlanOptions
        {
            Delete = request.Delete,
            MaxDelete = request.MaxDelete,
            Checksum = request.Checksum,
            DestinationMissing = push ? scanned is null : !localExists,
            ProtectedFolders = destination.ProtectedFolders,
        });
        observer.Planned(plan);
        foreach (var skip in plan.Skipped)
            observer.Skipped(skip);
        var errors = new List<SyncProblem>();
        foreach (var problem in source.Errors.Concat(destination.Errors).Concat(plan.Problems))
        {
            errors.Add(problem);
            observer.Failed(problem);
        }
        // A listing that could not be read whole must not drive deletions: what it missed would look deleted.
        var deletesAllowed = errors.Count == 0;

        if (request.DryRun)
        {
            var shown = 0;
            foreach (var action in plan.Actions)
            {
                if (!action.Itemized || (action.Kind == SyncActionKind.Delete && !deletesAllowed))
                    continue;
                observer.Done(action);
                shown++;
            }
            return new SyncReport
            {
                Plan = plan,
                DryRun = true,
                FilesChanged = plan.Actions.Count(a => a.Kind == SyncActionKind.TransferFile),
                Deleted = deletesAllowed ? plan.Actions.Count(a => a.Kind == SyncActionKind.Delete) : 0,
                ItemsDone = shown,
                Errors = errors,
                DeleteSkipped = plan.DeletesBlocked || (!deletesAllowed && plan.Actions.Any(a => a.Kind == SyncActionKind.Delete)),
            };
        }

        var run = new PlanRun(this, request, localRoot, observer, errors);
        await run.ExecuteAsync(plan, cancellationToken).ConfigureAwait(false);
        return new SyncReport
        {
            Plan = plan,
            FilesChanged = run.FilesChanged,
            Deleted = run.Deleted,
            ItemsDone = run.ItemsDone,
            BytesSent = run.BytesSent,
            BytesReused = run.BytesReused,
            Errors = errors,
            DeleteSkipped = plan.DeletesBlocked || run.DeleteSkipped,
        };
    }

    /// <summary>
    /// Adds whole-file hashes to the local files that have a file of the same name and size on the other side: only those
    /// can turn out unchanged, so only those are read (or found in the hash cache).
    /// </summary>
    private static async Task<IReadOnlyList<ScanEntry>> HashLocalFilesAsync(IReadOnlyList<ScanEntry> localEntries, IReadOnlyList<ScanEntry> remoteEntries,
        string localRoot, FileDigester? digester, CancellationToken cancellationToken)
    {
        digester ??= new FileDigester(new HashCache());
        var remoteSizes = remoteEntries.Where(e => e.Type == ScanEntryTypes.File).ToDictionary(e => e.Name, e => e.Size, StringComparer.Ordinal);
        var hashed = new List<ScanEntry>(localEntries.Count);
        foreach (var entry in localEntries)
        {
            var wanted = entry.Type == ScanEntryTypes.File && remoteSizes.GetValueOrDefault(entry.Name, -1) == entry.Size;
            if (!wanted)
            {
                hashed.Add(entry);
                continue;
            }
            try
            {
                var digest = await digester.DigestAsync(LocalTreeScanner.FullPath(localRoot, entry.Name), cancellationToken: cancellationToken).ConfigureAwait(false);
                hashed.Add(entry with { Hash = digest.Digest.ContentHash.ToString("x32", System.Globalization.CultureInfo.InvariantCulture) });
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                hashed.Add(entry); // compared by size and time instead; the transfer reports the file if it is unreadable
            }
        }
        return hashed;
    }

    internal IRemoteTree Remote => _remote;
}
