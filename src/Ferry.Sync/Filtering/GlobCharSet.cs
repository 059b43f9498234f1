namespace Ferry.Sync.Filtering;

/// <summary>The characters of one bracket expression (<c>[a-z]</c>, <c>[!0-9]</c>): inclusive ranges, maybe negated.</summary>
internal sealed class GlobCharSet(IReadOnlyList<(char From, char To)> ranges, bool negated)
{
    /// <summary>Whether <paramref name="c"/> is in the set. A bracket never matches '/': the caller checks that.</summary>
    public bool Contains(char c)
    {
        var inRanges = false;
        foreach (var (from, to) in ranges)
        {
            if (c >= from && c <= to)
            {
                inRanges = true;
                break;
            }
        }
        return inRanges != negated;
    }
}
