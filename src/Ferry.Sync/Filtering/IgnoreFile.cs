namespace Ferry.Sync.Filtering;

/// <summary>
/// The patterns of one .ferryignore file, with gitignore's rule within a file: the last pattern that matches decides
/// (a <c>!pattern</c> re-includes what an earlier pattern excluded). Paths are relative to the file's folder.
/// </summary>
public sealed class IgnoreFile
{
    /// <summary>Largest .ferryignore read, so that a hostile tree cannot make a sync hold or compile without bound.</summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>Most patterns one file may hold.</summary>
    public const int MaxPatterns = 10_000;

    private IgnoreFile(IReadOnlyList<IgnorePattern> patterns) => Patterns = patterns;

    /// <summary>The patterns in file order.</summary>
    public IReadOnlyList<IgnorePattern> Patterns { get; }

    /// <summary>Parses the text of a .ferryignore.</summary>
    /// <exception cref="InvalidDataException">More than <see cref="MaxBytes"/> characters or <see cref="MaxPatterns"/> patterns.</exception>
    public static IgnoreFile Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > MaxBytes)
            throw new InvalidDataException($"An ignore file may hold at most {MaxBytes} bytes.");
        var patterns = new List<IgnorePattern>();
        foreach (var line in text.Split('\n'))
        {
            if (!IgnorePattern.TryParse(line, out var pattern))
                continue;
            if (patterns.Count == MaxPatterns)
                throw new InvalidDataException($"An ignore file may hold at most {MaxPatterns} patterns.");
            patterns.Add(pattern!);
        }
        return new IgnoreFile(patterns);
    }

    /// <summary>
    /// Reads and parses the file at <paramref name="path"/>; null when there is none, or when it is not a regular file (a
    /// link is never followed: it could lead out of the tree being synced).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is too large or holds too many patterns.</exception>
    public static async Task<IgnoreFile?> LoadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        var info = new FileInfo(path);
        if (!info.Exists || info.LinkTarget is not null)
            return null;
        if (info.Length > MaxBytes)
            throw new InvalidDataException($"'{path}' is larger than {MaxBytes} bytes.");
        try
        {
            return Parse(await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false));
        }
        catch (FileNotFoundException)
        {
            return null; // removed since it was seen
        }
    }

    /// <summary>The decision of the last pattern that matches, or <see cref="FilterDecision.NoMatch"/>.</summary>
    public FilterDecision Evaluate(string relativePath, bool isDirectory)
    {
        for (var i = Patterns.Count - 1; i >= 0; i--)
        {
            if (Patterns[i].Matches(relativePath, isDirectory))
                return Patterns[i].IsNegated ? FilterDecision.Included : FilterDecision.Excluded;
        }
        return FilterDecision.NoMatch;
    }
}
