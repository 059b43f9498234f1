using System.Text.Json.Serialization;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// One name in a folder, the value of its key in the namespace bucket. A folder has an id that its children's keys carry,
/// so renaming a folder rewrites one key, not its tree. A file points to immutable objects in the data bucket, its parts
/// in order; an overwrite writes new objects and swaps the pointer, so a reader sees the old file or the new one, never a
/// mix.
/// </summary>
internal sealed record NatsEntry
{
    public const string FileKind = "file";
    public const string DirectoryKind = "dir";

    [JsonPropertyName("kind")] public required string Kind { get; init; }

    /// <summary>A folder's id (the middle token of its children's keys).</summary>
    [JsonPropertyName("id")] public string? Id { get; init; }

    [JsonPropertyName("size")] public long Size { get; init; }

    [JsonPropertyName("mtime_ns")] public long ModifiedNs { get; init; }

    /// <summary>Permission bits (0o777 at most).</summary>
    [JsonPropertyName("mode")] public int Mode { get; init; }

    /// <summary>A file's parts in the data bucket, in order; each but the last is <see cref="PartSize"/> bytes.</summary>
    [JsonPropertyName("parts")] public IReadOnlyList<string>? Parts { get; init; }

    [JsonPropertyName("part_size")] public long PartSize { get; init; }

    /// <summary>A file's whole-content checksum, lower-case hex, with its algorithm's name.</summary>
    [JsonPropertyName("hash")] public string? Hash { get; init; }

    [JsonPropertyName("checksum")] public string? Checksum { get; init; }

    [JsonIgnore] public bool IsDirectory => Kind == DirectoryKind;
}
