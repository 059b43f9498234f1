namespace Ferry.Sync.Filtering;

/// <summary>
/// One pattern in gitignore syntax, matched against '/'-separated paths relative to the folder the pattern belongs to
/// (the sync root for command-line rules, the .ferryignore's folder otherwise).
/// </summary>
/// <remarks>
/// <para>The syntax, as in gitignore(5):</para>
/// <list type="bullet">
/// <item>A blank line, or one starting with <c>#</c>, is no pattern; <c>\#</c> starts a pattern with <c>#</c>. Trailing
/// spaces are dropped unless escaped with a backslash.</item>
/// <item>A leading <c>!</c> negates the pattern (<c>\!</c> for a literal one).</item>
/// <item>A trailing <c>/</c> makes the pattern match folders only (a file or link of that name does not match).</item>
/// <item>A pattern with a <c>/</c> at its start or in its middle is anchored: it matches the whole path relative to its
/// folder (a leading <c>/</c> only says so). Without one it matches the last component at any depth.</item>
/// <item><c>*</c> matches any run of characters except <c>/</c>, <c>?</c> one character except <c>/</c>, <c>[...]</c> one
/// character of a set (ranges <c>a-z</c>, negation <c>[!...]</c> or <c>[^...]</c>, classes such as <c>[:digit:]</c>; never
/// <c>/</c>), and <c>\</c> makes the next character literal.</item>
/// <item><c>**</c> between slashes or at the ends: <c>**/x</c> matches <c>x</c> in every folder, <c>x/**</c> everything
/// inside <c>x</c>, <c>a/**/b</c> <c>a/b</c>, <c>a/x/b</c>, <c>a/x/y/b</c>. Elsewhere <c>**</c> is like <c>*</c>.</item>
/// </list>
/// <para>Matching is case-sensitive (ordinal) and takes time proportional to path length × pattern length whatever the
/// pattern (an automaton, no backtracking), so a hostile pattern in a .ferryignore cannot stall a sync.</para>
/// </remarks>
public sealed class IgnorePattern
{
    private static readonly Dictionary<string, (char From, char To)[]> CharacterClasses = new(StringComparer.Ordinal)
    {
        ["alnum"] = [('a', 'z'), ('A', 'Z'), ('0', '9')],
        ["alpha"] = [('a', 'z'), ('A', 'Z')],
        ["blank"] = [(' ', ' '), ('\t', '\t')],
        ["cntrl"] = [('\x00', '\x1F'), ('\x7F', '\x7F')],
        ["digit"] = [('0', '9')],
        ["graph"] = [('\x21', '\x7E')],
        ["lower"] = [('a', 'z')],
        ["print"] = [('\x20', '\x7E')],
        ["punct"] = [('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        ["space"] = [(' ', ' '), ('\t', '\r')],
        ["upper"] = [('A', 'Z')],
        ["xdigit"] = [('0', '9'), ('A', 'F'), ('a', 'f')],
    };

    private readonly GlobProgram _program;

    private IgnorePattern(string text, bool isNegated, bool directoryOnly, bool isAnchored, GlobProgram program)
    {
        Text = text;
        IsNegated = isNegated;
        DirectoryOnly = directoryOnly;
        IsAnchored = isAnchored;
        _program = program;
    }

    /// <summary>The pattern as written (without trailing spaces).</summary>
    public string Text { get; }

    /// <summary>It started with <c>!</c>: a match re-includes.</summary>
    public bool IsNegated { get; }

    /// <summary>It ended with <c>/</c>: only folders match.</summary>
    public bool DirectoryOnly { get; }

    /// <summary>It is matched against the whole relative path, not just the last component.</summary>
    public bool IsAnchored { get; }

    /// <summary>Parses one line; false for a blank or comment line.</summary>
    public static bool TryParse(string line, out IgnorePattern? pattern)
    {
        ArgumentNullException.ThrowIfNull(line);
        pattern = null;
        var text = TrimTrailingSpaces(line.TrimEnd('\r'));
        if (text.Length == 0 || text[0] == '#')
            return false;
        var body = text.AsSpan();
        var negated = body[0] == '!';
        if (negated)
            body = body[1..];
        var directoryOnly = body.Length > 0 && body[^1] == '/' && !(body.Length > 1 && body[^2] == '\\');
        if (directoryOnly)
            body = body[..^1];
        if (body.IsEmpty)
            return false;
        var anchored = body.Contains('/');
        if (body[0] == '/')
            body = body[1..];
        if (body.IsEmpty)
            return false;
        var program = new GlobProgram();
        if (!anchored)
            program.AnyFolders(); // a name matches in every folder
        CompileGlob(program, body);
        pattern = new IgnorePattern(text, negated, directoryOnly, anchored, program);
        return true;
    }

    /// <summary>Parses one line that must be a pattern.</summary>
    /// <exception cref="ArgumentException">The line is blank or a comment.</exception>
    public static IgnorePattern Parse(string line) =>
        TryParse(line, out var pattern) ? pattern! : throw new ArgumentException($"'{line}' is not a pattern (blank or comment).", nameof(line));

    /// <summary>Whether the pattern matches <paramref name="relativePath"/> ('/'-separated, no leading or trailing '/').</summary>
    public bool Matches(string relativePath, bool isDirectory)
    {
        ArgumentNullException.ThrowIfNull(relativePath);
        if (DirectoryOnly && !isDirectory)
            return false;
        return relativePath.Length > 0 && _program.IsMatch(relativePath);
    }

    /// <summary>The pattern as written.</summary>
    public override string ToString() => Text;

    private static string TrimTrailingSpaces(string line)
    {
        var end = line.Length;
        while (end > 0 && line[end - 1] == ' ')
        {
            // "foo\ " keeps its escaped space (and the backslash, which the glob reads as an escape).
            var backslashes = 0;
            for (var i = end - 2; i >= 0 && line[i] == '\\'; i--)
                backslashes++;
            if (backslashes % 2 == 1)
                break;
            end--;
        }
        return line[..end];
    }

    private static void CompileGlob(GlobProgram program, ReadOnlySpan<char> glob)
    {
        for (var i = 0; i < glob.Length; i++)
        {
            var c = glob[i];
            switch (c)
            {
                case '\\' when i + 1 < glob.Length:
                    program.Literal(glob[++i]);
                    break;
                case '*':
                    var runEnd = i;
                    while (runEnd < glob.Length && glob[runEnd] == '*')
                        runEnd++;
                    var atStart = i == 0 || glob[i - 1] == '/';
                    var atEnd = runEnd == glob.Length || glob[runEnd] == '/';
                    if (runEnd - i >= 2 && atStart && atEnd)
                    {
                        if (runEnd == glob.Length)
                            program.AnyRun(); // "x/**": everything inside x; "**" alone: everything
                        else
                        {
                            program.AnyFolders(); // "**/": zero or more folders
                            runEnd++; // the slash is part of it
                        }
                    }
                    else
                        program.Star(); // "*", and "**" elsewhere, which is a plain "*"
                    i = runEnd - 1;
                    break;
                case '?':
                    program.AnyOne();
                    break;
                case '[':
                    var consumed = TryCompileBracket(program, glob[i..]);
                    if (consumed == 0)
                        program.Literal('[');
                    else
                        i += consumed - 1;
                    break;
                default:
                    program.Literal(c);
                    break;
            }
        }
    }

    /// <summary>Compiles a bracket expression at the start of <paramref name="glob"/>; returns the characters used, or 0
    /// when it is not closed (then the '[' is literal, as in fnmatch).</summary>
    private static int TryCompileBracket(GlobProgram program, ReadOnlySpan<char> glob)
    {
        var i = 1;
        var negated = i < glob.Length && glob[i] is '!' or '^';
        if (negated)
            i++;
        var ranges = new List<(char From, char To)>();
        var first = true;
        while (i < glob.Length)
        {
            var c = glob[i];
            if (c == ']' && !first)
            {
                program.OneOf(new GlobCharSet(ranges, negated));
                return i + 1;
            }
            first = false;
            if (c == '[' && i + 1 < glob.Length && glob[i + 1] == ':')
            {
                var close = glob[(i + 2)..].IndexOf(":]");
                if (close >= 0 && CharacterClasses.TryGetValue(glob.Slice(i + 2, close).ToString(), out var members))
                {
                    ranges.AddRange(members);
                    i += close + 4;
                    continue;
                }
            }
            if (c == '\\' && i + 1 < glob.Length)
                c = glob[++i];
            if (i + 2 < glob.Length && glob[i + 1] == '-' && glob[i + 2] != ']')
            {
                var toIndex = i + 2;
                var to = glob[toIndex];
                if (to == '\\' && toIndex + 1 < glob.Length)
                    to = glob[++toIndex];
                if (to >= c)
                    ranges.Add((c, to)); // a reversed range holds nothing
                i = toIndex + 1;
                continue;
            }
            ranges.Add((c, c));
            i++;
        }
        return 0;
    }
}
