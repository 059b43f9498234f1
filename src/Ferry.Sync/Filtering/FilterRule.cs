namespace Ferry.Sync.Filtering;

/// <summary>One command-line rule: <c>--exclude PATTERN</c> or <c>--include PATTERN</c>, relative to the sync root.</summary>
public sealed class FilterRule
{
    /// <summary>Creates a rule with an explicit action (the pattern's own <c>!</c>, if any, is ignored).</summary>
    public FilterRule(FilterAction action, IgnorePattern pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        Action = action;
        Pattern = pattern;
    }

    /// <summary>What a match does.</summary>
    public FilterAction Action { get; }

    /// <summary>The gitignore-syntax pattern.</summary>
    public IgnorePattern Pattern { get; }

    /// <summary><c>--exclude PATTERN</c>. A leading <c>!</c> makes it an include, as it would in an ignore file.</summary>
    public static FilterRule Exclude(string pattern)
    {
        var parsed = IgnorePattern.Parse(pattern);
        return new FilterRule(parsed.IsNegated ? FilterAction.Include : FilterAction.Exclude, parsed);
    }

    /// <summary><c>--include PATTERN</c>.</summary>
    public static FilterRule Include(string pattern) => new(FilterAction.Include, IgnorePattern.Parse(pattern));

    /// <summary>
    /// <c>--exclude-from FILE</c>: one <see cref="Exclude"/> rule per pattern line, in file order (blank and <c>#</c>
    /// lines skipped; <c>!pattern</c> lines become includes). The rules take the place of the option among the others.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is larger than <see cref="IgnoreFile.MaxBytes"/> or holds more than
    /// <see cref="IgnoreFile.MaxPatterns"/> patterns.</exception>
    public static async Task<IReadOnlyList<FilterRule>> ReadExcludeFromAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (new FileInfo(path).Length > IgnoreFile.MaxBytes)
            throw new InvalidDataException($"'{path}' is larger than {IgnoreFile.MaxBytes} bytes.");
        var text = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        return [.. IgnoreFile.Parse(text).Patterns.Select(p => new FilterRule(p.IsNegated ? FilterAction.Include : FilterAction.Exclude, p))];
    }

    /// <summary>For messages: "--exclude *.log".</summary>
    public override string ToString() => $"--{(Action == FilterAction.Include ? "include" : "exclude")} {Pattern}";
}
