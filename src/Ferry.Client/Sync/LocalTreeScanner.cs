using System.IO.Enumeration;
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
    /// <returns>
    /// The entries, the folders the filter protects, the folders or entries that could not be read, and the .ferryignore
    /// files read on the way (so that the other side's listing is filtered with the very same rules, without reading
    /// them again).
    /// </returns>
    public static async Task<SyncListing> ScanAsync(string root, SyncFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(filter);
        var walk = new Walk(root);
        if (walk.List("") is { } names)
        {
            var rootScope = filter.Root(await walk.LoadIgnoreFileAsync("", names, cancellationToken).ConfigureAwait(false));
            await walk.RunAsync("", rootScope, names, cancellationToken).ConfigureAwait(false);
        }
        return new SyncListing(walk.Entries, walk.ProtectedFolders, walk.Errors) { IgnoreFiles = walk.IgnoreFiles };
    }

    /// <summary>One scan's state: what it found so far.</summary>
    private sealed class Walk(string root)
    {
        public List<ScanEntry> Entries { get; } = [];
        public HashSet<string> ProtectedFolders { get; } = new(StringComparer.Ordinal);
        public List<SyncProblem> Errors { get; } = [];
        public Dictionary<string, IgnoreFile> IgnoreFiles { get; } = new(StringComparer.Ordinal);

        /// <summary>The names in <paramref name="folder"/>, sorted (ordinal), or null (and an error) when it cannot be listed.</summary>
        public List<string>? List(string folder)
        {
            var fullFolder = FullPath(root, folder);
            try
            {
                // Names only: no status is read while listing (every entry's is read once, below, without following links).
                var names = new FileSystemEnumerable<string>(fullFolder, (ref FileSystemEntry entry) => entry.FileName.ToString(), ListAll).ToList();
                names.Sort(StringComparer.Ordinal);
                return names;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Errors.Add(new SyncProblem(folder, "local_io", $"Cannot list '{ShowPath(folder)}': {ex.Message}"));
                return null;
            }
        }

        /// <summary>The folder's .ferryignore when its listing holds one (no lookup otherwise); null when absent or unreadable.</summary>
        public async Task<IgnoreFile?> LoadIgnoreFileAsync(string folder, List<string> names, CancellationToken cancellationToken)
        {
            if (names.BinarySearch(SyncFilter.IgnoreFileName, StringComparer.Ordinal) < 0)
                return null;
            var path = Path.Combine(FullPath(root, folder), SyncFilter.IgnoreFileName);
            try
            {
                var file = await IgnoreFile.LoadAsync(path, cancellationToken).ConfigureAwait(false);
                if (file is not null)
                    IgnoreFiles[folder] = file;
                return file;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                Errors.Add(new SyncProblem(SyncPaths.Join(folder, SyncFilter.IgnoreFileName), "local_io", $"Cannot read '{path}': {ex.Message}"));
                return null;
            }
        }

        /// <summary>Walks <paramref name="folder"/> (listed as <paramref name="names"/>) and everything below it that the filter keeps.</summary>
        public async Task RunAsync(string folder, FilterScope scope, List<string> names, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var folderHandle = LocalEntryStat.OpenFolder(FullPath(root, folder), followLink: folder.Length == 0);
            foreach (var name in names)
            {
                if (name.StartsWith(ReservedPrefix, StringComparison.Ordinal))
                    continue;
                var relative = folder.Length == 0 ? name : $"{folder}/{name}";
                if (!SyncPaths.IsSafeRelative(relative))
                {
                    Errors.Add(new SyncProblem(relative, FerryErrorCode.PathInvalid.ToWire(), $"'{ShowPath(relative)}' has a name a server cannot take (a backslash or control character)."));
                    continue;
                }
                ScanEntry? entry;
                try
                {
                    entry = LocalEntryStat.Read(folderHandle, name, FullPath(root, relative), relative);
                }
                catch (IOException ex)
                {
                    Errors.Add(new SyncProblem(relative, "local_io", ex.Message));
                    continue;
                }
                if (entry is null)
                    continue; // removed since the folder was listed
                var isFolder = entry.Type == ScanEntryTypes.Directory;
                if (scope.IsExcluded(name, isFolder))
                {
                    SyncListing.ProtectParents(relative, ProtectedFolders);
                    continue;
                }
                Entries.Add(entry);
                if (isFolder && List(relative) is { } inner)
                {
                    var innerScope = scope.EnterFolder(name, await LoadIgnoreFileAsync(relative, inner, cancellationToken).ConfigureAwait(false));
                    await RunAsync(relative, innerScope, inner, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>Every entry, hidden ones included, and errors reported rather than skipped.</summary>
    private static readonly EnumerationOptions ListAll = new()
    {
        AttributesToSkip = 0,
        IgnoreInaccessible = false,
        RecurseSubdirectories = false,
        ReturnSpecialDirectories = false,
    };

    /// <summary>The local path of <paramref name="relative"/> below <paramref name="root"/>.</summary>
    public static string FullPath(string root, string relative) =>
        relative.Length == 0 ? root : Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar));

    private static string ShowPath(string relative) => relative.Length == 0 ? "." : relative;
}
