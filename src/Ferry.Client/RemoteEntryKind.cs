namespace Ferry.Client;

/// <summary>What a <see cref="RemoteEntry"/> is.</summary>
public enum RemoteEntryKind
{
    /// <summary>A kind this client does not know (sent by a newer server).</summary>
    Other = 0,

    /// <summary>A regular file.</summary>
    File = 1,

    /// <summary>A directory.</summary>
    Directory = 2,

    /// <summary>A symbolic link that stays inside the user's root.</summary>
    SymbolicLink = 3,
}
