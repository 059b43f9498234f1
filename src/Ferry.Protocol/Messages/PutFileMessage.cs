using System.Text.Json.Serialization;
using Ferry.Protocol.Framing;

namespace Ferry.Protocol.Messages;

/// <summary>
/// A whole small file in one frame (docs/protocol.md §5.2.2): the body is the file's content and <see cref="Hash"/> its
/// checksum, so the upload needs no put_ready round trip and no put_data or put_end frames. Answered by
/// <see cref="TransferDoneMessage"/> or an error (the body is then skipped; nothing is stored).
/// </summary>
internal sealed record PutFileMessage
{
    /// <summary>The largest file one put_file may carry; larger files use put (§5.2), which can resume.</summary>
    public const long MaxSize = 16 * 1024 * 1024;

    [JsonPropertyName("cmd")] public string Cmd => CommandNames.PutFile;
    /// <summary>Client-chosen id, echoed in the reply; nullable so that a missing one is refused rather than read as 0.</summary>
    [JsonPropertyName("id")] public long? Id { get; init; }
    /// <summary>Remote path, relative to the user's root (§5.1).</summary>
    [JsonPropertyName("path")] public string? Path { get; init; }
    /// <summary>Checksum algorithm of <see cref="Hash"/>: <c>xxh3-128</c> (default) or <c>sha256</c>.</summary>
    [JsonPropertyName("checksum")] public string? Checksum { get; init; }
    /// <summary>Hex checksum of the body: the file is stored only when what arrived matches it.</summary>
    [JsonPropertyName("hash")] public string? Hash { get; init; }
    /// <summary>Replace an existing file.</summary>
    [JsonPropertyName("force")] public bool Force { get; init; }
    /// <summary>Modification time in nanoseconds since the Unix epoch (optional).</summary>
    [JsonPropertyName("mtime_ns")] public long? ModifiedNs { get; init; }
    /// <summary>Modification time in Unix seconds (optional; not with <see cref="ModifiedNs"/>).</summary>
    [JsonPropertyName("mtime")] public long? ModifiedUnixSeconds { get; init; }
    /// <summary>Permission bits to give the file (0 to 0o777).</summary>
    [JsonPropertyName("mode")] public int? Mode { get; init; }
    /// <summary>The file's size: the body is exactly the file.</summary>
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
}
