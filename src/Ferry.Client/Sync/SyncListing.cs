using Ferry.Protocol.Messages;
using Ferry.Sync.Filtering;

namespace Ferry.Client.Sync;

/// <summary>One side's entries after filtering, and what the filter left out.</summary>
/// <param name="Entries">The entries that take part, in tree order.</param>
/// <param name="ProtectedFolders">Folders that hold an excluded entry, with all their parents: never deleted.</param>
/// <param name="Errors">Entries or folders that could not be read (any error stops --delete).</param>
internal sealed record SyncListing(IReadOnlyList<ScanEntry> Entries, IReadOnlySet<string> ProtectedFolders, IReadOnlyList<SyncProblem> Errors)
{
    /// <summary>The .ferryignore files read while listing, by folder ("" for the root); only a local listing has them.</summary>
    public IReadOnlyDictionary<string, IgnoreFile> IgnoreFiles { get; init; } = new Dictionary<string, IgnoreFile>();

    /// <summary>Adds <paramref name="path"/>'s parent folders to <paramref name="protectedFolders"/>.</summary>
    internal static void ProtectParents(string path, HashSet<string> protectedFolders)
    {
        for (var parent = SyncPaths.Parent(path); parent.Length > 0 && protectedFolders.Add(parent); parent = SyncPaths.Parent(parent))
        {
        }
    }
}
