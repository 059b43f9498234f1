using Ferry.Protocol.Messages;
using Ferry.Server.Storage;

namespace Ferry.Server.Handlers.Files;

/// <summary>Store entries as the wire shows them (docs/protocol.md §5.5: type file, dir or link; mtime in whole seconds).</summary>
internal static class WireEntries
{
    public static FileEntry ToWire(this StoreEntry entry) => new()
    {
        Name = entry.Name,
        Type = entry.Kind switch
        {
            StoreEntryKind.Directory => "dir",
            StoreEntryKind.Link => "link",
            _ => "file",
        },
        Size = entry.Size,
        ModifiedUnixSeconds = entry.ModifiedTime.ToUnixTimeSeconds(),
    };
}
