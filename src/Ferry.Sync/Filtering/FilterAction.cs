namespace Ferry.Sync.Filtering;

/// <summary>What a command-line rule does with the paths it matches.</summary>
public enum FilterAction
{
    /// <summary><c>--exclude</c>: leave the path out.</summary>
    Exclude = 0,
    /// <summary><c>--include</c>: sync the path, whatever later rules and .ferryignore files say.</summary>
    Include = 1,
}
