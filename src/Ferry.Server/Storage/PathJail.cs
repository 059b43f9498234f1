using System.Text;
using Ferry.Protocol.Errors;
using Ferry.Server.Interop;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Server.Storage;

/// <summary>
/// Maps normalized remote paths to files and folders under one root and refuses anything that would leave it: a
/// symbolic link is followed only while it stays inside the root.
/// </summary>
/// <remarks>
/// On Linux nothing is checked first and used later by path: <see cref="Open"/> and <see cref="OpenEntry"/> open
/// beneath a descriptor of the root (<see cref="Beneath"/>: openat2 with RESOLVE_BENEATH, or a walk with O_NOFOLLOW),
/// so the kernel refuses a way out at the moment of use, and the store then works on the descriptors it got. A folder
/// swapped for a link by a local user or a command in between cannot lead the server outside the root. Elsewhere the
/// store checks path strings (<see cref="Resolve"/>), and such a race remains possible.
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

    /// <summary>The root as the kernel names it (no links), to turn where an open folder is back into a path under <see cref="Root"/>.</summary>
    private readonly string? _rootKernelPath;

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
        if (UsesDescriptors)
        {
            using var handle = Beneath.OpenRoot(Root);
            _rootKernelPath = Beneath.CurrentPath(handle) ?? Root;
        }
    }

    /// <summary>Whether paths are opened beneath a descriptor of the root (Linux) rather than checked as strings.</summary>
    internal bool UsesDescriptors { get; } = Beneath.IsSupported;

    /// <summary>Resolves with the walk alone, as on a kernel without openat2 (tests).</summary>
    internal bool WalkOnly { get; init; }

    /// <summary>
    /// Opens <paramref name="normalized"/> beneath the root with <paramref name="flags"/> (O_PATH, O_RDONLY...), following
    /// links, the last one too, while they stay inside (Linux). Throws <c>path_escapes_root</c> for one that leaves, and
    /// what .NET would throw for the rest (FileNotFoundException, IOException with the errno...).
    /// </summary>
    public SafeFileHandle Open(string normalized, int flags)
    {
        CheckEveryName(normalized);
        using var root = Beneath.OpenRoot(Root);
        return Beneath.Open(root, Root, normalized, flags, followLast: true, WalkOnly);
    }

    /// <summary>
    /// The folder that holds <paramref name="normalized"/>, opened beneath the root (links on the way followed while they
    /// stay inside), with the last name as it is, not followed: for the calls that create, rename or remove that name.
    /// Without descriptors (not Linux) the folder is resolved as a string as before.
    /// </summary>
    public JailedEntry OpenEntry(string normalized)
    {
        var slash = normalized.LastIndexOf('/');
        var name = slash >= 0 ? normalized[(slash + 1)..] : normalized;
        var parent = slash >= 0 ? normalized[..slash] : "";
        CheckName(name);
        CheckLimits(normalized);
        if (!UsesDescriptors)
            return new JailedEntry(null, Resolve(parent), name);
        var handle = Open(parent, Libc.OpenPath | Libc.OpenDirectory);
        try
        {
            return new JailedEntry(handle, PathOf(handle), name);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Where an open folder under the root is now, as a path under <see cref="Root"/> (for logs and the part-file registry).</summary>
    public string PathOf(SafeFileHandle folder)
    {
        var now = Beneath.CurrentPath(folder);
        var root = _rootKernelPath ?? Root;
        if (now == root)
            return Root;
        var prefix = root == "/" ? "/" : root + "/";
        if (now is null || !now.StartsWith(prefix, StringComparison.Ordinal))
            throw new IOException("A folder was moved out of the root or removed while the server used it.");
        return Path.Join(Root, now[prefix.Length..]);
    }

    /// <summary>The limits, and the reserved names at every level; counts the levels.</summary>
    private void CheckEveryName(string normalized)
    {
        if (normalized.Length == 0)
            return;
        CheckLimits(normalized);
        foreach (var segment in normalized.Split('/'))
        {
            Interlocked.Increment(ref _levelsWalked);
            CheckName(segment);
        }
    }

    /// <summary>Counts one level walked by a caller that walks itself (mkdir -p).</summary>
    internal void CountLevel() => Interlocked.Increment(ref _levelsWalked);

    public string Root { get; }

    /// <summary>Path components looked at so far (each costs a system call); lets tests see that a walk is linear.</summary>
    internal long LevelsWalked => Interlocked.Read(ref _levelsWalked);

    /// <summary>
    /// Resolves <paramref name="normalized"/> (from RemotePath.Normalize) to a local path inside the root by checking
    /// path strings: for systems without <see cref="UsesDescriptors"/>, where the check and the use are separate calls.
    /// </summary>
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
    /// String checks, like <see cref="Resolve"/>; on Linux the store walks descriptors instead.
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
    internal void CheckLimits(string normalized)
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
