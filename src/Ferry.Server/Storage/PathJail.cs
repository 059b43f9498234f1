using Ferry.Protocol.Errors;

namespace Ferry.Server.Storage;

/// <summary>
/// Maps normalized remote paths to local paths under one root and refuses anything that would leave it: every existing
/// component is checked, and a symbolic link is followed only when its final target stays inside the root.
/// </summary>
/// <remarks>
/// The check and the later use are separate system calls, so a local user who can swap a directory for a link between
/// them could still race it; remote peers cannot create links, so over the protocol the jail holds.
/// </remarks>
internal sealed class PathJail
{
    /// <summary>Prefix of the store's own temporary files; never listed, never addressable.</summary>
    public const string ReservedPrefix = ".ferry-";

    public PathJail(string root)
    {
        Directory.CreateDirectory(root);
        var full = Path.GetFullPath(root).TrimEnd('/');
        // Canonical root: if the root itself is reached through a link, compare against where it really is.
        Root = (new DirectoryInfo(full).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full).TrimEnd('/');
        if (Root.Length == 0)
            Root = "/";
    }

    public string Root { get; }

    /// <summary>Resolves <paramref name="normalized"/> (from RemotePath.Normalize) to a local path inside the root.</summary>
    public string Resolve(string normalized)
    {
        if (normalized.Length == 0)
            return Root;

        var current = Root;
        var segments = normalized.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            var segment = segments[i];
            CheckName(segment);
            var next = Path.Join(current, segment);
            FileSystemInfo info = new FileInfo(next);
            if (info.LinkTarget is not null)
            {
                var target = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName
                    ?? Path.GetFullPath(info.LinkTarget, Path.GetDirectoryName(next)!);
                if (!IsInside(target))
                    throw new FerryException(FerryErrorCode.PathEscapesRoot, $"'{normalized}' leads outside your root through a symbolic link.");
                next = target;
            }
            current = next;
        }
        return current;
    }

    /// <summary>Refuses the names the store keeps for itself.</summary>
    public static void CheckName(string name)
    {
        if (name.StartsWith(ReservedPrefix, StringComparison.Ordinal))
            throw new FerryException(FerryErrorCode.PathInvalid, $"Names starting with '{ReservedPrefix}' are reserved for the server.");
    }

    /// <summary>
    /// The local path of an entry itself, not following a link in its last component (for rm and mv, which act on
    /// the link, not on what it points to). Its parent is resolved and checked as usual.
    /// </summary>
    public string ResolveEntry(string normalized)
    {
        var slash = normalized.LastIndexOf('/');
        var name = slash >= 0 ? normalized[(slash + 1)..] : normalized;
        CheckName(name);
        return Path.Join(Resolve(slash >= 0 ? normalized[..slash] : ""), name);
    }

    /// <summary>True when a link at <paramref name="fullPath"/> resolves inside the root (used to hide escaping links from listings).</summary>
    public bool LinkStaysInside(FileSystemInfo link)
    {
        try
        {
            var target = link.ResolveLinkTarget(returnFinalTarget: true)?.FullName;
            return target is not null && IsInside(target);
        }
        catch (IOException)
        {
            return false;
        }
    }

    public bool IsInside(string fullPath)
    {
        fullPath = Path.GetFullPath(fullPath).TrimEnd('/');
        return fullPath == Root || fullPath.StartsWith(Root == "/" ? "/" : Root + "/", StringComparison.Ordinal);
    }
}
