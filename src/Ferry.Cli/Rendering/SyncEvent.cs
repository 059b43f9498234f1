using System.Text.Json.Serialization;

namespace Ferry.Cli.Rendering;

/// <summary>
/// One line of <c>ferry sync --json</c> output. <c>event</c> is <c>item</c> (a step done, or with --dry-run one that
/// would be), <c>skipped</c>, <c>error</c> (a step or entry that failed), <c>progress</c> or <c>summary</c>; the final
/// error of a failed command is the common error object (with <c>exit</c>). Fields that do not apply are omitted.
/// </summary>
internal sealed record SyncEvent
{
    [JsonPropertyName("event")] public required string Event { get; init; }
    /// <summary>item: <c>new</c>, <c>changed</c>, <c>attrs</c>, <c>link</c>, <c>mkdir</c> or <c>deleted</c>.</summary>
    [JsonPropertyName("action")] public string? Action { get; init; }
    /// <summary>The path relative to both roots, '/'-separated ("" for the destination root).</summary>
    [JsonPropertyName("path")] public string? Path { get; init; }
    /// <summary>item: <c>file</c>, <c>dir</c> or <c>link</c>.</summary>
    [JsonPropertyName("type")] public string? Type { get; init; }
    /// <summary>item (new, changed): the file's size.</summary>
    [JsonPropertyName("size")] public long? Size { get; init; }
    /// <summary>item (link): the link's target.</summary>
    [JsonPropertyName("target")] public string? Target { get; init; }
    /// <summary>item: the itemized line, as printed without --json.</summary>
    [JsonPropertyName("line")] public string? Line { get; init; }
    /// <summary>progress: file data sent so far.</summary>
    [JsonPropertyName("bytes")] public long? Bytes { get; init; }
    /// <summary>progress: the size of the files to send (an upper bound on the data that moves).</summary>
    [JsonPropertyName("total")] public long? Total { get; init; }
    [JsonPropertyName("checked")] public int? Checked { get; init; }
    [JsonPropertyName("changed")] public int? Changed { get; init; }
    [JsonPropertyName("deleted")] public int? Deleted { get; init; }
    [JsonPropertyName("bytes_sent")] public long? BytesSent { get; init; }
    [JsonPropertyName("bytes_reused")] public long? BytesReused { get; init; }
    [JsonPropertyName("total_size")] public long? TotalSize { get; init; }
    /// <summary>summary: total size divided by bytes sent; omitted when nothing was sent.</summary>
    [JsonPropertyName("speedup")] public double? SpeedUp { get; init; }
    [JsonPropertyName("seconds")] public double? Seconds { get; init; }
    /// <summary>summary: true for a dry run.</summary>
    [JsonPropertyName("dry_run")] public bool? DryRun { get; init; }
    /// <summary>summary: true when --delete was not carried out because something failed.</summary>
    [JsonPropertyName("delete_skipped")] public bool? DeleteSkipped { get; init; }
    [JsonPropertyName("code")] public string? Code { get; init; }
    [JsonPropertyName("message")] public string? Message { get; init; }
}
