namespace Ferry.Sync.Filtering;

/// <summary>
/// Decides which paths of a tree a sync leaves out, from the command-line rules and the per-folder .ferryignore files.
/// </summary>
/// <remarks>
/// <para>Which rule wins, for a path P (relative to the sync root, '/'-separated):</para>
/// <list type="number">
/// <item><b>Command-line rules first, first match wins.</b> <c>--include</c>, <c>--exclude</c> and the lines of
/// <c>--exclude-from</c> are tried in the order given; the first whose pattern matches P decides, and nothing else is
/// consulted. So <c>--include keep.log --exclude '*.log'</c> keeps <c>keep.log</c>, and the reverse order drops it.</item>
/// <item><b>Then .ferryignore files, nearest folder first, last match within a file.</b> The .ferryignore of P's own
/// folder is asked first, then its parent's, up to the root's; within one file the last matching pattern decides
/// (<c>!pattern</c> re-includes), and the first file that has a matching pattern decides. Patterns are relative to
/// their file's folder and apply to that folder and everything below it.</item>
/// <item><b>Otherwise the path is synced.</b></item>
/// </list>
/// <para>An excluded folder is not entered, so nothing below it is synced, whatever rules match the paths inside
/// (as in git: a file cannot be re-included when a parent folder is excluded). To keep one file of a folder, exclude
/// the folder's contents rather than the folder: <c>--include build/keep --exclude 'build/*'</c>, not
/// <c>--include build/keep --exclude build/</c>, which drops <c>build</c> and so <c>build/keep</c>. A folder-only pattern
/// (<c>logs/</c>) never matches a file or a link.</para>
/// </remarks>
public sealed class SyncFilter
{
    /// <summary>Name of the per-folder ignore files.</summary>
    public const string IgnoreFileName = ".ferryignore";

    /// <summary>A filter with no command-line rules (.ferryignore files still apply).</summary>
    public static SyncFilter NoRules { get; } = new([]);

    /// <summary>A filter with the command-line <paramref name="rules"/> in the order given.</summary>
    public SyncFilter(IEnumerable<FilterRule> rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        Rules = [.. rules];
    }

    /// <summary>The command-line rules, in order.</summary>
    public IReadOnlyList<FilterRule> Rules { get; }

    /// <summary>The scope of the sync root, with the root's own .ferryignore if it has one.</summary>
    public FilterScope Root(IgnoreFile? rootIgnoreFile) => new(this, "", null, rootIgnoreFile);

    /// <summary>The first command-line rule that matches, or <see cref="FilterDecision.NoMatch"/>.</summary>
    public FilterDecision EvaluateRules(string relativePath, bool isDirectory)
    {
        foreach (var rule in Rules)
        {
            if (rule.Pattern.Matches(relativePath, isDirectory))
                return rule.Action == FilterAction.Include ? FilterDecision.Included : FilterDecision.Excluded;
        }
        return FilterDecision.NoMatch;
    }

    /// <summary>
    /// Whether a path is left out, its parent folders included: for a caller that does not walk the tree (the walker uses
    /// <see cref="FilterScope"/> and never enters an excluded folder). <paramref name="loadIgnoreFile"/> gets each folder's
    /// path relative to the root ("" for the root) and returns its .ferryignore, or null.
    /// </summary>
    public async Task<bool> IsExcludedAsync(
        string relativePath, bool isDirectory, Func<string, CancellationToken, Task<IgnoreFile?>> loadIgnoreFile, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(relativePath);
        ArgumentNullException.ThrowIfNull(loadIgnoreFile);
        var components = relativePath.Split('/');
        var scope = Root(await loadIgnoreFile("", cancellationToken).ConfigureAwait(false));
        for (var i = 0; i < components.Length - 1; i++)
        {
            if (scope.IsExcluded(components[i], isDirectory: true))
                return true;
            var folder = string.Join('/', components, 0, i + 1);
            scope = scope.EnterFolder(components[i], await loadIgnoreFile(folder, cancellationToken).ConfigureAwait(false));
        }
        return scope.IsExcluded(components[^1], isDirectory);
    }

    /// <summary>Loads .ferryignore files from a folder on disk, for <see cref="IsExcludedAsync"/>.</summary>
    public static Func<string, CancellationToken, Task<IgnoreFile?>> IgnoreFilesUnder(string root) =>
        (folder, cancellationToken) => IgnoreFile.LoadAsync(Path.Combine(root, folder, IgnoreFileName), cancellationToken);
}
