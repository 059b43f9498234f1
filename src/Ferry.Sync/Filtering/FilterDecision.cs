namespace Ferry.Sync.Filtering;

/// <summary>What a set of rules says about one path.</summary>
public enum FilterDecision
{
    /// <summary>No rule matched: the next set of rules decides, and when none does, the path is synced.</summary>
    NoMatch = 0,
    /// <summary>A rule said to sync the path (an <c>--include</c>, or a <c>!pattern</c> in a .ferryignore).</summary>
    Included = 1,
    /// <summary>A rule said to leave the path out (an <c>--exclude</c>, or a pattern in a .ferryignore).</summary>
    Excluded = 2,
}
