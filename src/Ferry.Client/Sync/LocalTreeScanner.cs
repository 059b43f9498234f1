using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;
using Ferry.Sync.Filtering;

namespace Ferry.Client.Sync;

/// <summary>
/// Lists a local folder the way a server's scan lists a remote one (§5.9.1): every entry below the root in tree order,
/// without following symbolic links, with nanosecond times, permission bits and link targets, and with the filter
/// applied as it walks (an excluded folder is not entered).
/// </summary>
internal static class LocalTreeScanner
{
    /// <summary>Names the server keeps to itself (§5.9.1) are left out on this side too, so that both sides list alike.</summary>
    public const string ReservedPrefix = ".ferry-";

    /// <summary>Lists the folder <paramref name="root"/> (which must exist).</summary>
    /// <param name="root">The folder (a link to a folder is followed for the root only).</param>
    /// <param name="filter">The command-line rules; .ferryignore files in the tree apply too.</param>
    /// <param name="cancellationToken">Stops the walk.</param>
    /// <returns>The entries, the folders the filter protects, and the folders or entries that could not be read.</returns>
    public static async Task<SyncListing> ScanAsync(string root, SyncFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(filter);
        var entries = new List<ScanEntry>();
        var protectedFolders = new HashSet<string>(StringComparer.Ordinal);
        var errors = new List<SyncProblem>();
        var rootScope = filter.Root(await LoadIgnoreFileAsync(root, "", errors, cancellationToken).ConfigureAwait(false));
        await WalkAsync(root, "", rootScope, entries, protectedFolders, errors, cancellationToken).ConfigureAwait(false);
        return new SyncListing(entries, protectedFolders, errors);
    }

    private static async Task WalkAsync(string root, string folder, FilterScope scope, List<ScanEntry> entries, HashSet<string> protectedFolders,
        List<SyncProblem> errors, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var fullFolder = FullPath(root, folder);
        List<string> names;
        try
        {
            names = [.. Directory.EnumerateFileSystemEntries(fullFolder).Select(Path.GetFileName).OfType<string>()];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            errors.Add(new SyncProblem(folder, "local_io", $"Cannot list '{ShowPath(folder)}': {ex.Message}"));
            return;
        }
        names.Sort(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (name.StartsWith(ReservedPrefix, StringComparison.Ordinal))
                continue;
            var relative = folder.Length == 0 ? name : $"{folder}/{name}";
            if (!SyncPaths.IsSafeRelative(relative))
            {
                errors.Add(new SyncProblem(relative, FerryErrorCode.PathInvalid.ToWire(), $"'{ShowPath(relative)}' has a name a server cannot take (a backslash or control character)."));
                continue;
            }
            ScanEntry? entry;
            try
            {
                entry = LocalEntryStat.Read(FullPath(root, relative), relative);
            }
            catch (IOException ex)
            {
                errors.Add(new SyncProblem(relative, "local_io", ex.Message));
                continue;
            }
            if (entry is null)
                continue; // removed since the folder was listed
            var isFolder = entry.Type == ScanEntryTypes.Directory;
            if (scope.IsExcluded(name, isFolder))
            {
                SyncListing.ProtectParents(relative, protectedFolders);
                continue;
            }
            entries.Add(entry);
            if (isFolder)
            {
                var inner = scope.EnterFolder(name, await LoadIgnoreFileAsync(root, relative, errors, cancellationToken).ConfigureAwait(false));
                await WalkAsync(root, relative, inner, entries, protectedFolders, errors, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task<IgnoreFile?> LoadIgnoreFileAsync(string root, string folder, List<SyncProblem> errors, CancellationToken cancellationToken)
    {
        var path = Path.Combine(FullPath(root, folder), SyncFilter.IgnoreFileName);
        try
        {
            return await IgnoreFile.LoadAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            errors.Add(new SyncProblem(SyncPaths.Join(folder, SyncFilter.IgnoreFileName), "local_io", $"Cannot read '{path}': {ex.Message}"));
            return null;
        }
    }

    /// <summary>The local path of <paramref name="relative"/> below <paramref name="root"/>.</summary>
    public static string FullPath(string root, string relative) =>
        relative.Length == 0 ? root : Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar));

    private static string ShowPath(string relative) => relative.Length == 0 ? "." : relative;
}
