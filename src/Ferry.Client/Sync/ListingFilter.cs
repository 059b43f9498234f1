using Ferry.Protocol.Messages;
using Ferry.Sync.Filtering;

namespace Ferry.Client.Sync;

/// <summary>
/// Applies a <see cref="SyncFilter"/> to a listing that was read whole (the server's scan), as the local scanner applies
/// it while walking: an excluded folder's contents are excluded with it, and the folders holding excluded entries are
/// protected from deletion.
/// </summary>
internal static class ListingFilter
{
    /// <summary>Filters <paramref name="entries"/> (every entry's parent folder listed before it, see <see cref="ScanValidator"/>).</summary>
    /// <param name="entries">The listing.</param>
    /// <param name="filter">The command-line rules.</param>
    /// <param name="loadIgnoreFile">The .ferryignore of a folder (relative path, "" for the root), or null.</param>
    /// <param name="cancellationToken">Cancels loading ignore files.</param>
    public static async Task<SyncListing> ApplyAsync(IReadOnlyList<ScanEntry> entries, SyncFilter filter,
        Func<string, CancellationToken, Task<IgnoreFile?>> loadIgnoreFile, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(loadIgnoreFile);
        var scopes = new Dictionary<string, FilterScope>(StringComparer.Ordinal)
        {
            [""] = filter.Root(await loadIgnoreFile("", cancellationToken).ConfigureAwait(false)),
        };
        var kept = new List<ScanEntry>(entries.Count);
        var protectedFolders = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries.OrderBy(e => e.Name, SyncPaths.TreeOrder))
        {
            var isFolder = entry.Type == ScanEntryTypes.Directory;
            // A missing parent scope means the parent was excluded: nothing below an excluded folder takes part.
            if (!scopes.TryGetValue(SyncPaths.Parent(entry.Name), out var scope))
                continue;
            if (scope.IsExcluded(SyncPaths.Name(entry.Name), isFolder))
            {
                SyncListing.ProtectParents(entry.Name, protectedFolders);
                continue;
            }
            kept.Add(entry);
            if (isFolder)
                scopes[entry.Name] = scope.EnterFolder(SyncPaths.Name(entry.Name), await loadIgnoreFile(entry.Name, cancellationToken).ConfigureAwait(false));
        }
        return new SyncListing(kept, protectedFolders, []);
    }
}
