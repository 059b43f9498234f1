using System.Text;
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

    /// <summary>Most levels a path may have (a/b/c has three); deeper paths are <c>path_too_long</c>.</summary>
    public const int MaxDepth = 256;

    /// <summary>
    /// Longest local path, in bytes, that a request may name: the root, a '/' and the remote path together (PATH_MAX is
    /// 4096 with its terminating NUL). Longer is <c>path_too_long</c>.
    /// </summary>
    public const int MaxLocalPathBytes = 4095;

    private readonly int _rootBytes;
    private long _levelsWalked;

    public PathJail(string root)
    {
        Directory.CreateDirectory(root);
        var full = Path.GetFullPath(root).TrimEnd('/');
        // Canonical root: if the root itself is reached through a link, compare against where it really is.
        Root = (new DirectoryInfo(full).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full).TrimEnd('/');
        if (Root.Length == 0)
            Root = "/";
        _rootBytes = Encoding.UTF8.GetByteCount(Root);
    }

    public string Root { get; }

    /// <summary>Path components looked at so far (each costs a system call); lets tests see that a walk is linear.</summary>
    internal long LevelsWalked => Interlocked.Read(ref _levelsWalked);

    /// <summary>Resolves <paramref name="normalized"/> (from RemotePath.Normalize) to a local path inside the root.</summary>
    public string Resolve(string normalized)
    {
        if (normalized.Length == 0)
            return Root;
        CheckLimits(normalized);

        var current = Root;
        foreach (var segment in normalized.Split('/'))
            current = Step(current, segment, normalized);
        return current;
    }

    /// <summary>
    /// Resolves <paramref name="normalized"/> level by level, yielding each level's remote prefix and local path before
    /// going on, so that the caller can create a missing level first (mkdir -p): one walk for the whole path, where
    /// resolving every prefix from the root would cost a number of steps that grows with the square of the depth.
    /// </summary>
    public IEnumerable<(string Prefix, string Local)> ResolveEachLevel(string normalized)
    {
        if (normalized.Length == 0)
            yield break;
        CheckLimits(normalized);
        var current = Root;
        var end = -1;
        foreach (var segment in normalized.Split('/'))
        {
            current = Step(current, segment, normalized);
            end += segment.Length + 1;
            yield return (normalized[..end], current);
        }
    }

    /// <summary>One level down from <paramref name="current"/>: a link is followed only when it stays inside the root.</summary>
    private string Step(string current, string segment, string normalized)
    {
        Interlocked.Increment(ref _levelsWalked);
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
        return next;
    }

    /// <summary>Refuses paths deeper than <see cref="MaxDepth"/> or longer than <see cref="MaxLocalPathBytes"/> under this root, before any walk.</summary>
    private void CheckLimits(string normalized)
    {
        var depth = normalized.AsSpan().Count('/') + 1;
        if (depth > MaxDepth)
            throw new FerryException(FerryErrorCode.PathTooLong, $"The path has {depth} levels; the server accepts at most {MaxDepth}.");
        var bytes = _rootBytes + 1 + Encoding.UTF8.GetByteCount(normalized);
        if (bytes > MaxLocalPathBytes)
            throw new FerryException(FerryErrorCode.PathTooLong,
                $"The path is too long for the server: {bytes} bytes with your root's own path, at most {MaxLocalPathBytes}.");
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
        CheckLimits(normalized);
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
