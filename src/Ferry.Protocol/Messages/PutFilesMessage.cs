using System.Text.Json.Serialization;
using Ferry.Protocol.Framing;

namespace Ferry.Protocol.Messages;

/// <summary>
/// Many whole small files in one frame (docs/protocol.md §5.9.7): the body is <see cref="Count"/> packed records (name
/// delta-encoded against the previous one, varint numbers, the binary xxh3-128, the content), so a small file costs
/// tens of bytes of framing instead of a JSON header and a JSON reply. Answered by one <see cref="PutFilesDoneMessage"/>
/// or, when the frame itself is refused, by an error (nothing stored).
/// </summary>
internal sealed record PutFilesMessage
{
    /// <summary>The largest body one put_files may carry: the server holds it in memory while it checks every record.</summary>
    public const long MaxBodySize = 16 * 1024 * 1024;

    /// <summary>The most records one put_files may carry.</summary>
    public const int MaxCount = 4096;

    [JsonPropertyName("cmd")] public string Cmd => CommandNames.PutFiles;
    /// <summary>Client-chosen id, echoed in the reply; nullable so that a missing one is refused rather than read as 0.</summary>
    [JsonPropertyName("id")] public long? Id { get; init; }
    /// <summary>Records in the body: 1 to <see cref="MaxCount"/>; the body must hold exactly that many.</summary>
    [JsonPropertyName("count")] public int? Count { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
}

/// <summary>
/// The one reply to a put_files (§5.9.7): how many records were stored, and for each one that was not, its index, code
/// and message in the body (a JSON array of <see cref="PutFilesFailure"/>; no body when every record was stored).
/// </summary>
internal sealed record PutFilesDoneMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.PutFilesDone;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("count")] public int Count { get; init; }
    [JsonPropertyName("failed")] public int Failed { get; init; }
    [JsonPropertyName("bodysize")] public long? BodySize { get; init; }
}

/// <summary>One record of a put_files that was not stored: its 0-based index in the frame, an error code of docs/errors.md and why.</summary>
internal sealed record PutFilesFailure
{
    [JsonPropertyName("index")] public int Index { get; init; }
    [JsonPropertyName("code")] public string? Code { get; init; }
    [JsonPropertyName("message")] public string? Message { get; init; }
}
