using System.Text.Json.Serialization;
using Ferry.Protocol.Framing;

namespace Ferry.Protocol.Messages;

/// <summary>
/// Asks for many whole small files at once (docs/protocol.md §5.9.8): the body is <see cref="Count"/> names, each as the
/// name part of a put_files record (prefix-compressed against the previous name). Answered by zero or more
/// <see cref="FileRecordsMessage"/> frames, then one <see cref="GetFilesDoneMessage"/>; or, when the request itself is
/// refused, by one error (nothing sent).
/// </summary>
internal sealed record GetFilesMessage
{
    /// <summary>The most names one get_files may carry.</summary>
    public const int MaxCount = 1024;

    /// <summary>The largest body of names one get_files may carry.</summary>
    public const long MaxBodySize = 1024 * 1024;

    /// <summary>The largest file the server sends in a record; a larger one is refused with file_too_large (fetch it with get).</summary>
    public const long MaxFileSize = 1024 * 1024;

    [JsonPropertyName("cmd")] public string Cmd => CommandNames.GetFiles;
    /// <summary>Client-chosen id, echoed in every reply frame; nullable so that a missing one is refused rather than read as 0.</summary>
    [JsonPropertyName("id")] public long? Id { get; init; }
    /// <summary>Names in the body: 1 to <see cref="MaxCount"/>; the body must hold exactly that many.</summary>
    [JsonPropertyName("count")] public int? Count { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
}

/// <summary>
/// One frame of a get_files answer (§5.9.8): <see cref="Count"/> put_files records (§5.9.7) with mode and time, never
/// force, each a file that was asked for, in the order asked.
/// </summary>
internal sealed record FileRecordsMessage
{
    /// <summary>The largest body of one file_records frame (the client holds a whole frame while it checks it).</summary>
    public const long MaxBodySize = 4 * 1024 * 1024;

    [JsonPropertyName("cmd")] public string Cmd => CommandNames.FileRecords;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("count")] public int Count { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
}

/// <summary>
/// The last frame of a get_files answer (§5.9.8): how many names were asked, how many files were sent in the records
/// before it, and for each one that was not, its index, code and message in the body (a JSON array of
/// <see cref="PutFilesFailure"/>; no body when every file was sent).
/// </summary>
internal sealed record GetFilesDoneMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.GetFilesDone;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("count")] public int Count { get; init; }
    [JsonPropertyName("sent")] public int Sent { get; init; }
    [JsonPropertyName("failed")] public int Failed { get; init; }
    [JsonPropertyName("bodysize")] public long? BodySize { get; init; }
}
