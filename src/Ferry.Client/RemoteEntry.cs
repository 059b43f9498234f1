using Ferry.Protocol.Messages;

namespace Ferry.Client;

/// <summary>
/// A file, directory or symbolic link on the server, as <see cref="FerryClient.ListAsync"/> and
/// <see cref="FerryClient.StatAsync"/> return it.
/// </summary>
/// <param name="Name">The entry's name; in a recursive listing its path relative to the listed directory, '/'-separated.</param>
/// <param name="Kind">File, directory or link.</param>
/// <param name="Size">Size in bytes (0 for a directory).</param>
/// <param name="Modified">Last modification time, to the second.</param>
public sealed record RemoteEntry(string Name, RemoteEntryKind Kind, long Size, DateTimeOffset Modified)
{
    internal static RemoteEntry From(FileEntry entry) => new(entry.Name, entry.Type switch
    {
        "dir" => RemoteEntryKind.Directory,
        "link" => RemoteEntryKind.SymbolicLink,
        "file" => RemoteEntryKind.File,
        _ => RemoteEntryKind.Other,
    }, entry.Size, DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(entry.ModifiedUnixSeconds, -62135596800, 253402300799)));
}
