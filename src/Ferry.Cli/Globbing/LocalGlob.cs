namespace Ferry.Cli.Globbing;

/// <summary>
/// Expands local wildcards as a POSIX shell does, for patterns the shell left alone (quoted, or on Windows):
/// <c>*</c> any run of characters, <c>?</c> one character, <c>[abc]</c>, <c>[a-z]</c> and <c>[!a-z]</c> (or
/// <c>[^a-z]</c>) one character of a set. Wildcards never match '/', and a leading '.' only when the pattern spells it.
/// Matches come sorted (ordinal). Microsoft.Extensions.FileSystemGlobbing was not used: it knows '*' and '**' but
/// neither '?' nor '[...]', and its '*' matches hidden files.
/// </summary>
internal static class LocalGlob
{
    public static bool HasWildcards(string pattern) => pattern.AsSpan().IndexOfAny("*?[") >= 0;

    /// <summary>
    /// The paths <paramref name="pattern"/> matches; the pattern itself when it has no wildcards or names an existing
    /// path literally; empty when nothing matches.
    /// </summary>
    public static IReadOnlyList<string> Expand(string pattern)
    {
        if (!HasWildcards(pattern) || File.Exists(pattern) || Directory.Exists(pattern))
            return [pattern];

        var root = Path.IsPathRooted(pattern) ? Path.GetPathRoot(pattern)! : "";
        var segments = pattern[root.Length..].Split(['/', Path.DirectorySeparatorChar], StringSplitOptions.RemoveEmptyEntries);
        var found = new List<string> { root };
        for (var i = 0; i < segments.Length; i++)
        {
            var segment = segments[i];
            var last = i == segments.Length - 1;
            var next = new List<string>();
            foreach (var prefix in found)
            {
                if (!HasWildcards(segment))
                {
                    var candidate = Join(prefix, segment);
                    if (last ? File.Exists(candidate) || Directory.Exists(candidate) : Directory.Exists(candidate))
                        next.Add(candidate);
                    continue;
                }
                var directory = prefix.Length == 0 ? "." : prefix;
                if (!Directory.Exists(directory))
                    continue;
                IEnumerable<string> entries;
                try
                {
                    entries = Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName).OfType<string>().ToList();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    continue;
                }
                foreach (var name in entries)
                {
                    if (name.StartsWith('.') && !segment.StartsWith('.'))
                        continue;
                    if (!Matches(segment, name))
                        continue;
                    var candidate = Join(prefix, name);
                    if (last || Directory.Exists(candidate))
                        next.Add(candidate);
                }
            }
            found = next;
        }
        found.Sort(StringComparer.Ordinal);
        return found;
    }

    /// <summary>Whether <paramref name="name"/> matches the one-segment <paramref name="pattern"/>.</summary>
    public static bool Matches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> name)
    {
        int p = 0, n = 0, starP = -1, starN = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                starP = p++;
                starN = n;
                continue;
            }
            if (p < pattern.Length && MatchOne(pattern, p, name[n], out var width))
            {
                p += width;
                n++;
                continue;
            }
            if (starP < 0)
                return false;
            // Let the last '*' take one more character and try again.
            p = starP + 1;
            n = ++starN;
        }
        while (p < pattern.Length && pattern[p] == '*')
            p++;
        return p == pattern.Length;
    }

    /// <summary>Matches one pattern element at <paramref name="p"/> (a literal, '?' or a bracket set) against <paramref name="c"/>.</summary>
    private static bool MatchOne(ReadOnlySpan<char> pattern, int p, char c, out int width)
    {
        width = 1;
        switch (pattern[p])
        {
            case '?':
                return true;
            case '[':
                var close = FindClose(pattern, p);
                if (close < 0)
                    return c == '['; // an unclosed '[' is literal, as in sh
                width = close - p + 1;
                var set = pattern[(p + 1)..close];
                var negate = set.Length > 0 && set[0] is '!' or '^';
                if (negate)
                    set = set[1..];
                var hit = false;
                for (var i = 0; i < set.Length; i++)
                {
                    if (i + 2 < set.Length && set[i + 1] == '-')
                    {
                        hit |= c >= set[i] && c <= set[i + 2];
                        i += 2;
                    }
                    else
                    {
                        hit |= c == set[i];
                    }
                }
                return hit != negate;
            default:
                return pattern[p] == c;
        }
    }

    /// <summary>The ']' closing the set opened at <paramref name="open"/>; a ']' right after '[' (or '[!') is a member.</summary>
    private static int FindClose(ReadOnlySpan<char> pattern, int open)
    {
        var i = open + 1;
        if (i < pattern.Length && pattern[i] is '!' or '^')
            i++;
        if (i < pattern.Length && pattern[i] == ']')
            i++;
        for (; i < pattern.Length; i++)
        {
            if (pattern[i] == ']')
                return i;
        }
        return -1;
    }

    private static string Join(string prefix, string name) =>
        prefix.Length == 0 ? name : prefix.EndsWith('/') || prefix.EndsWith(Path.DirectorySeparatorChar) ? prefix + name : $"{prefix}/{name}";
}
