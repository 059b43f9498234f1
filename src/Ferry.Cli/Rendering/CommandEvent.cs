using System.Text.Json.Serialization;

namespace Ferry.Cli.Rendering;

/// <summary>
/// One line of <c>--json</c> output of the commands other than put and get (docs/cli.md lists the events and their
/// fields). Every line has <c>event</c>; fields that do not apply to an event are omitted.
/// </summary>
internal sealed record CommandEvent
{
    [JsonPropertyName("event")] public required string Event { get; init; }
    /// <summary>The remote path (ls, stat, mkdir, rm, mv), or the path of a local file the command wrote (user, login).</summary>
    [JsonPropertyName("path")] public string? Path { get; init; }
    /// <summary>mv: the new remote path.</summary>
    [JsonPropertyName("to")] public string? To { get; init; }
    /// <summary>ls: the entry's name (its path below the listed directory with -r); user: the user name.</summary>
    [JsonPropertyName("name")] public string? Name { get; init; }
    /// <summary><c>file</c>, <c>dir</c> or <c>link</c>.</summary>
    [JsonPropertyName("type")] public string? Type { get; init; }
    [JsonPropertyName("size")] public long? Size { get; init; }
    /// <summary>Modification time in Unix seconds.</summary>
    [JsonPropertyName("modified")] public long? Modified { get; init; }
    /// <summary>echo: the server's answer; exec: a piece of output, decoded as UTF-8.</summary>
    [JsonPropertyName("text")] public string? Text { get; init; }
    /// <summary>exec's exit event: the remote command's exit code; error: the exit code ferry ends with.</summary>
    [JsonPropertyName("exit")] public int? Exit { get; init; }
    /// <summary>exec's exit event: true when the command was killed at its time limit.</summary>
    [JsonPropertyName("timed_out")] public bool? TimedOut { get; init; }
    [JsonPropertyName("server")] public string? Server { get; init; }
    [JsonPropertyName("user")] public string? User { get; init; }
    /// <summary>user: the permissions, as in <c>--allow</c>.</summary>
    [JsonPropertyName("allow")] public string? Allow { get; init; }
    /// <summary>user: the byte quota; omitted when there is none.</summary>
    [JsonPropertyName("quota")] public long? Quota { get; init; }
    [JsonPropertyName("home")] public string? Home { get; init; }
    /// <summary>user_added, and user_updated with --new-key: the new key, base64 (shown only then).</summary>
    [JsonPropertyName("key")] public string? Key { get; init; }
    /// <summary>error: the stable error code (docs/cli.md).</summary>
    [JsonPropertyName("code")] public string? Code { get; init; }
    [JsonPropertyName("message")] public string? Message { get; init; }
}
