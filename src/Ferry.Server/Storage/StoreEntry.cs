namespace Ferry.Server.Storage;

/// <summary>
/// One name in a store as <see cref="IFileStore.StatAsync"/> and <see cref="IFileStore.ListAsync"/> describe it; the
/// handlers turn it into the wire's entry (docs/protocol.md §5.5).
/// </summary>
/// <param name="Name">The last name, or in a recursive listing the path relative to the listed folder, '/'-separated.</param>
/// <param name="Size">A file's length in bytes; 0 for folders and links.</param>
internal sealed record StoreEntry(string Name, StoreEntryKind Kind, long Size, DateTimeOffset ModifiedTime);
