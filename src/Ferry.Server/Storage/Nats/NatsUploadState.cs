using System.Text.Json.Serialization;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// An upload in progress, under <c>u.{user}.{path}</c>, so that any server can continue it: what file it makes, the parts
/// already stored (with their checksums, which a resuming client compares with its own), and which connection owns it
/// now. Each stored part is recorded with a compare-and-set, so a connection that lost the upload to a resume elsewhere
/// fails at its next part instead of writing on.
/// </summary>
internal sealed record NatsUploadState
{
    [JsonPropertyName("owner")] public required string Owner { get; init; }
    [JsonPropertyName("size")] public long Size { get; init; }
    [JsonPropertyName("checksum")] public required string Checksum { get; init; }
    [JsonPropertyName("part_size")] public long PartSize { get; init; }
    [JsonPropertyName("parts")] public IReadOnlyList<string> Parts { get; init; } = [];

    /// <summary>Each stored part's checksum (the upload's algorithm), lower-case hex, in order.</summary>
    [JsonPropertyName("part_hashes")] public IReadOnlyList<string> PartHashes { get; init; } = [];

    /// <summary>When a part was last stored: the sweep drops states idle for longer than partial_ttl.</summary>
    [JsonPropertyName("updated_ms")] public long UpdatedUnixMs { get; init; }
}
