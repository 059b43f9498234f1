using System.Text.Json.Serialization;
using Ferry.Protocol.Framing;

namespace Ferry.Protocol.Messages;

/// <summary>Lists a tree for synchronization (docs/protocol.md §5.9.1). Answered by one or more <see cref="ScanListMessage"/> pages.</summary>
internal sealed record ScanMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Scan;
    [JsonPropertyName("path")] public string? Path { get; init; }
    /// <summary>Include each file's XXH3-128 (from the server's hash cache where it can).</summary>
    [JsonPropertyName("hashes")] public bool Hashes { get; init; }
    /// <summary><c>zstd</c> asks for each page body as one zstd frame (§5.9.1); null for plain JSON pages.</summary>
    [JsonPropertyName("encoding")] public string? Encoding { get; init; }
}

/// <summary>One page of a scan: the body is a UTF-8 JSON array of <see cref="ScanEntry"/>; <see cref="More"/> says another page follows.</summary>
internal sealed record ScanListMessage
{
    /// <summary>
    /// Largest page a client accepts, as a plain body or as the <see cref="RawSize"/> of a zstd one (§5.9.1): 10,000
    /// entries of long names fit many times over, and a client never holds more than this for one page.
    /// </summary>
    public const int MaxPageBytes = 64 * 1024 * 1024;

    [JsonPropertyName("cmd")] public string Cmd => CommandNames.ScanList;
    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("count")] public int Count { get; init; }
    [JsonPropertyName("more")] public bool More { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
    /// <summary><c>zstd</c> when the body is one zstd frame of the page's JSON; null for a plain JSON body.</summary>
    [JsonPropertyName("encoding")] public string? Encoding { get; init; }
    /// <summary>The length of the page's JSON, when <see cref="Encoding"/> is set.</summary>
    [JsonPropertyName("rawsize")] public int? RawSize { get; init; }
}

/// <summary>One entry of a scan (§5.9.1).</summary>
internal sealed record ScanEntry
{
    /// <summary>Path relative to the scanned folder, '/'-separated; <c>""</c> when the scan named a file.</summary>
    [JsonPropertyName("name")] public required string Name { get; init; }
    /// <summary><c>file</c>, <c>dir</c>, <c>link</c> or <c>other</c> (<see cref="ScanEntryTypes"/>).</summary>
    [JsonPropertyName("type")] public required string Type { get; init; }
    /// <summary>Bytes of a file; left out when 0 (folders, links, others, empty files) to keep pages small.</summary>
    [JsonPropertyName("size")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Size { get; init; }
    /// <summary>Modification time, nanoseconds since the Unix epoch; left out when 0 (others carry none).</summary>
    [JsonPropertyName("mtime_ns")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long ModifiedNs { get; init; }
    /// <summary>Permission bits (0 to 0o777); absent for links and other types.</summary>
    [JsonPropertyName("mode")] public int? Mode { get; init; }
    /// <summary>A link's target text, never followed.</summary>
    [JsonPropertyName("target")] public string? Target { get; init; }
    /// <summary>Lower-case hex XXH3-128 of a file, when the scan asked for hashes.</summary>
    [JsonPropertyName("hash")] public string? Hash { get; init; }
}

/// <summary>The values of <see cref="ScanEntry.Type"/>.</summary>
internal static class ScanEntryTypes
{
    public const string File = "file";
    public const string Directory = "dir";
    public const string Link = "link";
    public const string Other = "other";
}

/// <summary>Asks for a file's FastCDC chunk list cut with average size <see cref="AverageSize"/> (§5.9.2).</summary>
internal sealed record ChunksMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Chunks;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("avg")] public int AverageSize { get; init; }
    /// <summary>Ask for the group list instead of the chunk list (§5.9.6).</summary>
    [JsonPropertyName("groups")] public bool? Groups { get; init; }
    /// <summary>With <see cref="Pick"/>: the whole-file hash of the version whose groups are picked (§5.9.6).</summary>
    [JsonPropertyName("hash")] public string? Hash { get; init; }
    /// <summary>Ask for the chunks of this many groups, whose indices the body lists (§5.9.6).</summary>
    [JsonPropertyName("pick")] public int? Pick { get; init; }
    [JsonPropertyName("bodysize")] public long? BodySize { get; init; }
}

/// <summary>A file's chunk list (the body, in Ferry.Sync's ChunkListCodec encoding) and the version it describes.</summary>
internal sealed record ChunkListMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.ChunkList;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("size")] public long Size { get; init; }
    [JsonPropertyName("mtime_ns")] public long ModifiedNs { get; init; }
    [JsonPropertyName("hash")] public string? Hash { get; init; }
    [JsonPropertyName("avg")] public int AverageSize { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
    /// <summary>The body is a group list of this many groups (§5.9.6).</summary>
    [JsonPropertyName("groups")] public int? Groups { get; init; }
}

/// <summary>The groups of a two-level delta put that the server lacks (§5.9.6); the body lists their indices.</summary>
internal sealed record PutGroupsMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.PutGroups;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("need")] public int Need { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
}

/// <summary>The chunks of the groups put_groups asked for, as one chunk list (§5.9.6). Answered by put_ready.</summary>
internal sealed record PutChunksMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.PutChunks;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("bodysize")] public long? BodySize { get; init; }
}

/// <summary>Sets a file's or folder's mode and/or modification time (§5.9.5). Answered by ok.</summary>
internal sealed record SetAttributesMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.SetAttributes;
    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("mode")] public int? Mode { get; init; }
    [JsonPropertyName("mtime_ns")] public long? ModifiedNs { get; init; }
}

/// <summary>Creates a symbolic link at <see cref="Path"/> to the relative <see cref="Target"/> (§5.9.5). Answered by ok.</summary>
internal sealed record SymlinkMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Symlink;
    [JsonPropertyName("path")] public string? Path { get; init; }
    [JsonPropertyName("target")] public string? Target { get; init; }
    /// <summary>Replace an existing file or link (never a folder).</summary>
    [JsonPropertyName("force")] public bool Force { get; init; }
}
