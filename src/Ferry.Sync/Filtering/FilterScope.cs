namespace Ferry.Sync.Filtering;

/// <summary>
/// The filter as it applies inside one folder of the tree: the command-line rules plus the .ferryignore files of this
/// folder and its parents. Immutable; a tree walker creates one per folder it enters (<see cref="EnterFolder"/>) and
/// asks it about each entry (<see cref="IsExcluded"/>). See <see cref="SyncFilter"/> for which rule wins.
/// </summary>
public sealed class FilterScope
{
    private readonly SyncFilter _filter;
    private readonly FilterScope? _parent;
    private readonly IgnoreFile? _ignoreFile;

    internal FilterScope(SyncFilter filter, string folderPath, FilterScope? parent, IgnoreFile? ignoreFile)
    {
        _filter = filter;
        FolderPath = folderPath;
        _parent = parent;
        _ignoreFile = ignoreFile;
    }

    /// <summary>The folder's path relative to the sync root ("" for the root).</summary>
    public string FolderPath { get; }

    /// <summary>
    /// The scope of the sub-folder <paramref name="name"/>, with its .ferryignore if it has one. Call it only for a folder
    /// that <see cref="IsExcluded"/> let through: nothing below an excluded folder is synced.
    /// </summary>
    public FilterScope EnterFolder(string name, IgnoreFile? ignoreFile)
    {
        ValidateName(name);
        return new FilterScope(_filter, PathOf(name), this, ignoreFile);
    }

    /// <summary>Whether the entry <paramref name="name"/> of this folder is left out.</summary>
    public bool IsExcluded(string name, bool isDirectory) => Decide(name, isDirectory) == FilterDecision.Excluded;

    /// <summary>
    /// The decision for the entry <paramref name="name"/> of this folder: the first matching command-line rule, else the
    /// nearest .ferryignore with a matching pattern, else <see cref="FilterDecision.NoMatch"/> (synced).
    /// </summary>
    public FilterDecision Decide(string name, bool isDirectory)
    {
        ValidateName(name);
        var path = PathOf(name);
        var decision = _filter.EvaluateRules(path, isDirectory);
        if (decision != FilterDecision.NoMatch)
            return decision;
        for (var scope = this; scope is not null; scope = scope._parent)
        {
            if (scope._ignoreFile is null)
                continue;
            var relative = scope.FolderPath.Length == 0 ? path : path[(scope.FolderPath.Length + 1)..];
            decision = scope._ignoreFile.Evaluate(relative, isDirectory);
            if (decision != FilterDecision.NoMatch)
                return decision;
        }
        return FilterDecision.NoMatch;
    }

    private string PathOf(string name) => FolderPath.Length == 0 ? name : $"{FolderPath}/{name}";

    private static void ValidateName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('/'))
            throw new ArgumentException($"'{name}' is a path; a folder entry's name has no '/'.", nameof(name));
    }
}
