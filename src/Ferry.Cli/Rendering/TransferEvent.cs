using System.Text.Json.Serialization;

namespace Ferry.Cli.Rendering;

/// <summary>
/// One line of <c>--json</c> output (newline-delimited JSON on stdout). <c>event</c> is <c>start</c>, <c>progress</c>,
/// <c>done</c> or <c>error</c>; <c>path</c> is always the remote path, <c>local</c> the local one. Fields that do not
/// apply to an event are omitted.
/// </summary>
internal sealed record TransferEvent
{
    [JsonPropertyName("event")] public required string Event { get; init; }
    [JsonPropertyName("path")] public required string Path { get; init; }
    [JsonPropertyName("local")] public string? Local { get; init; }
    /// <summary>start: the file size; progress: bytes done; done: the file size.</summary>
    [JsonPropertyName("bytes")] public long? Bytes { get; init; }
    /// <summary>progress: the file size.</summary>
    [JsonPropertyName("total")] public long? Total { get; init; }
    /// <summary>start: where a resumed transfer continues (omitted when 0).</summary>
    [JsonPropertyName("offset")] public long? Offset { get; init; }
    [JsonPropertyName("seconds")] public double? Seconds { get; init; }
    [JsonPropertyName("checksum")] public string? Checksum { get; init; }
    [JsonPropertyName("hash")] public string? Hash { get; init; }
    /// <summary>done: true when the server already had this exact file and nothing was sent (omitted otherwise).</summary>
    [JsonPropertyName("up_to_date")] public bool? UpToDate { get; init; }
    [JsonPropertyName("code")] public string? Code { get; init; }
    [JsonPropertyName("message")] public string? Message { get; init; }
}
