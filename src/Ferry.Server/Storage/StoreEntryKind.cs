namespace Ferry.Server.Storage;

/// <summary>What a name in a store is.</summary>
internal enum StoreEntryKind
{
    File,
    Directory,

    /// <summary>A symbolic link that stays inside the root but leads to nothing (a link to something is shown as that thing).</summary>
    Link,
}
