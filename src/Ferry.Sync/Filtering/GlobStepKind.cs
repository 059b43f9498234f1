namespace Ferry.Sync.Filtering;

/// <summary>The kinds of state in a <see cref="GlobProgram"/>.</summary>
internal enum GlobStepKind : byte
{
    /// <summary>Reads one given character.</summary>
    Literal,
    /// <summary>Reads any character but '/'.</summary>
    AnyOne,
    /// <summary>Reads one character of a set, never '/'.</summary>
    Set,
    /// <summary>Reads any characters but '/', or none.</summary>
    Star,
    /// <summary>Reads any characters, or none.</summary>
    AnyRun,
    /// <summary>Reads nothing: leads to the loop after it or past it.</summary>
    FoldersEntry,
    /// <summary>Reads any character; a '/' may also leave the loop.</summary>
    FoldersLoop,
}
