namespace Ferry.Client.Sync;

/// <summary>Relative '/'-separated paths as a sync orders and relates them.</summary>
internal static class SyncPaths
{
    /// <summary>
    /// Depth-first order, a folder right before its contents, names by ordinal within a folder: ordinal order with '/'
    /// sorting before every other character (so "a/b" comes before "a-b", and "a" before both).
    /// </summary>
    public static IComparer<string> TreeOrder { get; } = Comparer<string>.Create(CompareTreeOrder);

    private static int CompareTreeOrder(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
            return 0;
        if (x is null)
            return -1;
        if (y is null)
            return 1;
        var length = Math.Min(x.Length, y.Length);
        for (var i = 0; i < length; i++)
        {
            if (x[i] == y[i])
                continue;
            if (x[i] == '/')
                return -1;
            if (y[i] == '/')
                return 1;
            return x[i].CompareTo(y[i]);
        }
        return x.Length.CompareTo(y.Length);
    }

    /// <summary>The parent folder of a relative path ("" for a top-level name).</summary>
    public static string Parent(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash < 0 ? "" : path[..slash];
    }

    /// <summary>The last component.</summary>
    public static string Name(string path) => path[(path.LastIndexOf('/') + 1)..];

    /// <summary>Joins a root (local or remote) and a relative path with '/' ("" names the root).</summary>
    public static string Join(string root, string relative) =>
        relative.Length == 0 ? root : root.Length == 0 ? relative : $"{root.TrimEnd('/')}/{relative}";

    /// <summary>
    /// Whether <paramref name="path"/> is a relative path a peer may name: non-empty components, none "." or "..", no NUL,
    /// no backslash (a Windows separator) and no leading '/'.
    /// </summary>
    public static bool IsSafeRelative(string path)
    {
        if (path.Length == 0 || path.Contains('\0') || path.Contains('\\'))
            return false;
        foreach (var component in path.Split('/'))
        {
            if (component.Length == 0 || component == "." || component == "..")
                return false;
        }
        return true;
    }
}
