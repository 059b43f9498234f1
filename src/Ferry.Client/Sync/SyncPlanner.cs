using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;

namespace Ferry.Client.Sync;

/// <summary>
/// Decides what a sync does, from the two sides' (filtered) listings alone: no I/O, the same answer for the same input,
/// so that a dry run prints exactly what the real run then does.
/// </summary>
/// <remarks>
/// <para>The plan runs in phases, each in tree order (<see cref="SyncPaths.TreeOrder"/>): create folders (parents first),
/// send files, create links, set the attributes of unchanged files, delete (only with --delete, parents first), and last
/// set the mode and time of folders, deepest first, since writing into a folder changes its time.</para>
/// <para>A file is unchanged when size and modification time match (to the nanosecond, or to the second when one side's
/// time has no sub-second part: a file system with whole-second times); with --checksum when size and whole-file hash
/// match. A file sent is given a basis: its old version when it changed, and when it is new, a destination-only file of
/// the same size (and the same hash when both are known): a renamed file then costs no data.</para>
/// </remarks>
internal static class SyncPlanner
{
    /// <summary>The permission bits a sync carries (§5.9).</summary>
    public const int ModeMask = 0x1FF;

    private const long NanosecondsPerSecond = 1_000_000_000;

    /// <summary>Plans the sync of <paramref name="source"/> onto <paramref name="destination"/>.</summary>
    /// <param name="source">The source's entries, relative to its root, filtered.</param>
    /// <param name="destination">The destination's entries, filtered (an excluded entry is neither changed nor deleted).</param>
    /// <param name="options">What the plan may do.</param>
    /// <exception cref="ArgumentException">A listing names the same path twice.</exception>
    public static SyncPlan Plan(IReadOnlyList<ScanEntry> source, IReadOnlyList<ScanEntry> destination, SyncPlanOptions options)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(options);
        var sourceByName = Index(source, nameof(source));
        var destinationByName = Index(destination, nameof(destination));
        var sourceNames = sourceByName.Keys.Order(SyncPaths.TreeOrder).ToList();

        var mkdirs = new List<SyncAction>();
        var transfers = new List<SyncAction>();
        var links = new List<SyncAction>();
        var fileAttributes = new List<SyncAction>();
        var folderAttributes = new List<SyncAction>();
        var skipped = new List<SyncSkip>();
        var problems = new List<SyncProblem>();
        var blocked = new HashSet<string>(StringComparer.Ordinal); // source folders that cannot be created: their contents are left
        var filesChecked = 0;
        long totalSize = 0;

        if (options.DestinationMissing)
            mkdirs.Add(new SyncAction { Kind = SyncActionKind.MakeDirectory, Path = "", IsDirectory = true });

        foreach (var name in sourceNames)
        {
            var entry = sourceByName[name];
            if (blocked.Contains(SyncPaths.Parent(name)))
            {
                if (entry.Type == ScanEntryTypes.Directory)
                    blocked.Add(name);
                continue;
            }
            destinationByName.TryGetValue(name, out var existing);
            switch (entry.Type)
            {
                case ScanEntryTypes.Directory:
                    PlanFolder(entry, existing, mkdirs, folderAttributes);
                    break;
                case ScanEntryTypes.File:
                    filesChecked++;
                    totalSize += entry.Size;
                    if (existing?.Type == ScanEntryTypes.Directory)
                        problems.Add(FolderInTheWay(name, "file"));
                    else
                        PlanFile(entry, existing, options.Checksum, transfers, fileAttributes);
                    break;
                case ScanEntryTypes.Link:
                    if (existing?.Type == ScanEntryTypes.Directory)
                        problems.Add(FolderInTheWay(name, "symbolic link"));
                    else if (existing?.Type != ScanEntryTypes.Link || existing.Target != entry.Target)
                        links.Add(new SyncAction { Kind = SyncActionKind.CreateLink, Path = name, Target = entry.Target ?? "", ModifiedNs = entry.ModifiedNs });
                    else if (!SameTime(entry.ModifiedNs, existing.ModifiedNs))
                        // A link's own time is all that can differ (links have no mode of their own on Linux).
                        fileAttributes.Add(new SyncAction { Kind = SyncActionKind.SetAttributes, Path = name, ModifiedNs = entry.ModifiedNs });
                    break;
                default:
                    skipped.Add(new SyncSkip(name, "not a regular file, folder or symbolic link"));
                    break;
            }
        }

        var destinationOnly = destinationByName.Keys.Where(n => !sourceByName.ContainsKey(n)).Order(SyncPaths.TreeOrder).ToList();
        PairRenames(transfers, sourceByName, destinationOnly.Select(n => destinationByName[n]).Where(e => e.Type == ScanEntryTypes.File).ToList());

        var deletes = new List<SyncAction>();
        int? deletesRefused = null;
        if (options.Delete && problems.Count == 0)
        {
            var deletedFolders = new HashSet<string>(StringComparer.Ordinal);
            foreach (var name in destinationOnly)
            {
                var entry = destinationByName[name];
                var isFolder = entry.Type == ScanEntryTypes.Directory;
                if (isFolder && options.ProtectedFolders.Contains(name))
                    continue;
                var withParent = deletedFolders.Contains(SyncPaths.Parent(name));
                if (isFolder)
                    deletedFolders.Add(name);
                deletes.Add(new SyncAction { Kind = SyncActionKind.Delete, Path = name, IsDirectory = isFolder, RemovedWithParent = withParent });
            }
            if (options.MaxDelete is { } limit && deletes.Count > limit)
            {
                deletesRefused = deletes.Count;
                deletes.Clear();
            }
        }

        // Writing into a folder changes its time: every existing folder whose entries change gets its source time back at
        // the end (silently: its own line, if any, was planned above), or the next run would find it changed.
        var timed = folderAttributes.Select(a => a.Path).ToHashSet(StringComparer.Ordinal);
        foreach (var touched in mkdirs.Concat(transfers).Concat(links).Concat(deletes).Select(a => SyncPaths.Parent(a.Path)).Distinct(StringComparer.Ordinal).ToList())
        {
            if (touched.Length > 0 && !timed.Contains(touched) && sourceByName.TryGetValue(touched, out var folder) && folder.Type == ScanEntryTypes.Directory
                && destinationByName.TryGetValue(touched, out var existing) && existing.Type == ScanEntryTypes.Directory)
            {
                folderAttributes.Add(new SyncAction { Kind = SyncActionKind.SetAttributes, Path = touched, IsDirectory = true, ModifiedNs = folder.ModifiedNs, Itemized = false });
                timed.Add(touched);
            }
        }
        folderAttributes.Sort((x, y) => SyncPaths.TreeOrder.Compare(y.Path, x.Path)); // deepest first
        return new SyncPlan
        {
            Actions = [.. mkdirs, .. transfers, .. links, .. fileAttributes, .. deletes, .. folderAttributes],
            Skipped = skipped,
            Problems = problems,
            DeletesRefused = deletesRefused,
            DeletesBlocked = options.Delete && problems.Count > 0 && destinationOnly.Count > 0,
            FilesChecked = filesChecked,
            TotalSize = totalSize,
        };
    }

    /// <summary>Whether two modification times are the same, allowing for a side that keeps whole seconds only.</summary>
    public static bool SameTime(long x, long y) =>
        x == y || ((x % NanosecondsPerSecond == 0 || y % NanosecondsPerSecond == 0) && FloorSeconds(x) == FloorSeconds(y));

    private static long FloorSeconds(long ns) => ns >= 0 ? ns / NanosecondsPerSecond : -((-ns + NanosecondsPerSecond - 1) / NanosecondsPerSecond);

    private static Dictionary<string, ScanEntry> Index(IReadOnlyList<ScanEntry> entries, string parameter)
    {
        var byName = new Dictionary<string, ScanEntry>(entries.Count, StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (!byName.TryAdd(entry.Name, entry))
                throw new ArgumentException($"The listing names '{entry.Name}' twice.", parameter);
        }
        return byName;
    }

    private static void PlanFolder(ScanEntry entry, ScanEntry? existing, List<SyncAction> mkdirs, List<SyncAction> folderAttributes)
    {
        var mode = entry.Mode is { } m ? m & ModeMask : (int?)null;
        if (existing?.Type != ScanEntryTypes.Directory)
        {
            mkdirs.Add(new SyncAction { Kind = SyncActionKind.MakeDirectory, Path = entry.Name, IsDirectory = true, Mode = mode, ReplacesEntry = existing is not null });
            folderAttributes.Add(new SyncAction
            {
                Kind = SyncActionKind.SetAttributes, Path = entry.Name, IsDirectory = true, Mode = mode, ModifiedNs = entry.ModifiedNs, Itemized = false,
            });
            return;
        }
        var attributes = Attributes(entry, existing, compareTimes: true);
        if (attributes is not null)
            folderAttributes.Add(attributes with { IsDirectory = true });
    }

    private static void PlanFile(ScanEntry entry, ScanEntry? existing, bool checksum, List<SyncAction> transfers, List<SyncAction> fileAttributes)
    {
        var mode = entry.Mode is { } m ? m & ModeMask : (int?)null;
        if (existing?.Type != ScanEntryTypes.File)
        {
            transfers.Add(new SyncAction { Kind = SyncActionKind.TransferFile, Path = entry.Name, Reason = TransferReason.New, Size = entry.Size, Mode = mode, ModifiedNs = entry.ModifiedNs });
            return;
        }
        var hashesKnown = checksum && entry.Hash is not null && existing.Hash is not null;
        var sameContent = entry.Size == existing.Size && (hashesKnown
            ? string.Equals(entry.Hash, existing.Hash, StringComparison.OrdinalIgnoreCase)
            : SameTime(entry.ModifiedNs, existing.ModifiedNs));
        if (!sameContent)
        {
            transfers.Add(new SyncAction
            {
                Kind = SyncActionKind.TransferFile, Path = entry.Name, Reason = TransferReason.Changed, Size = entry.Size, Mode = mode,
                ModifiedNs = entry.ModifiedNs, Basis = [entry.Name], BasisSize = existing.Size,
            });
            return;
        }
        var attributes = Attributes(entry, existing, compareTimes: hashesKnown);
        if (attributes is not null)
            fileAttributes.Add(attributes);
    }

    /// <summary>The attribute change that makes <paramref name="existing"/> look like <paramref name="entry"/>, or null when none is needed.</summary>
    private static SyncAction? Attributes(ScanEntry entry, ScanEntry existing, bool compareTimes)
    {
        int? mode = entry.Mode is { } a && existing.Mode is { } b && (a & ModeMask) != (b & ModeMask) ? a & ModeMask : null;
        long? time = compareTimes && !SameTime(entry.ModifiedNs, existing.ModifiedNs) ? entry.ModifiedNs : null;
        return mode is null && time is null ? null : new SyncAction { Kind = SyncActionKind.SetAttributes, Path = entry.Name, Mode = mode, ModifiedNs = time };
    }

    /// <summary>Gives each new file a destination-only file of the same size (and hash, when both are known) as its basis.</summary>
    private static void PairRenames(List<SyncAction> transfers, Dictionary<string, ScanEntry> sourceByName, List<ScanEntry> destinationOnlyFiles)
    {
        var bySize = destinationOnlyFiles.Where(f => f.Size > 0).GroupBy(f => f.Size).ToDictionary(g => g.Key, g => g.ToList());
        for (var i = 0; i < transfers.Count; i++)
        {
            var transfer = transfers[i];
            if (transfer.Reason != TransferReason.New || transfer.Size == 0 || !bySize.TryGetValue(transfer.Size, out var candidates))
                continue;
            var hash = sourceByName[transfer.Path].Hash;
            var match = candidates.FindIndex(c => hash is null || c.Hash is null || string.Equals(hash, c.Hash, StringComparison.OrdinalIgnoreCase));
            if (match < 0)
                continue;
            var basis = candidates[match];
            candidates.RemoveAt(match);
            transfers[i] = transfer with { Basis = [basis.Name], BasisSize = basis.Size };
        }
    }

    private static SyncProblem FolderInTheWay(string name, string what) => new(name, FerryErrorCode.IsADirectory.ToWire(),
        $"'{name}' is a folder on the destination and a {what} on the source; remove the folder to let the {what} take its place.");
}
