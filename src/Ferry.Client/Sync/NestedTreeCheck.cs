using Ferry.Protocol.Messages;

namespace Ferry.Client.Sync;

/// <summary>
/// Tells when the two sides of a sync are one tree seen twice, one inside the other: the server runs on this machine
/// and the local folder lies inside the remote one or holds it. Copying a tree into a folder of itself grows it on every
/// run, and --delete would then remove the source. Scans carry no inode numbers, so the check compares listings: a
/// folder of one side whose whole subtree equals the other side, entry for entry to the nanosecond, is that side.
/// </summary>
internal static class NestedTreeCheck
{
    /// <summary>The folder of one side that is the other side, or null. Equal whole listings are not a match (a sync that has converged).</summary>
    public static string? FindNested(IReadOnlyList<ScanEntry> source, IReadOnlyList<ScanEntry> destination) =>
        FindInside(source, destination) ?? FindInside(destination, source);

    private static string? FindInside(IReadOnlyList<ScanEntry> outer, IReadOnlyList<ScanEntry> inner)
    {
        if (!inner.Any(e => e.Type == ScanEntryTypes.File))
            return null;
        // Entries below each folder, counted in one pass, so that only folders of the right size are compared.
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in outer)
        {
            for (var parent = SyncPaths.Parent(entry.Name); parent.Length > 0; parent = SyncPaths.Parent(parent))
                counts[parent] = counts.GetValueOrDefault(parent) + 1;
        }
        HashSet<string>? innerKeys = null;
        foreach (var (folder, count) in counts)
        {
            if (count != inner.Count)
                continue;
            innerKeys ??= inner.Select(e => Key(e, e.Name)).ToHashSet(StringComparer.Ordinal);
            var prefix = folder + "/";
            if (outer.Where(e => e.Name.StartsWith(prefix, StringComparison.Ordinal)).All(e => innerKeys.Contains(Key(e, e.Name[prefix.Length..]))))
                return folder;
        }
        return null;
    }

    private static string Key(ScanEntry entry, string name) => $"{entry.Type}\0{name}\0{entry.Size}\0{entry.ModifiedNs}\0{entry.Target}";
}
