using System.Text.Json.Serialization;
using Ferry.Protocol.Framing;

namespace Ferry.Protocol.Messages;

/// <summary>
/// The client's answer to the server's challenge (docs/security.md §3): who it is, its own challenge, and its proof.
/// Byte fields are base64 (standard alphabet, padded).
/// </summary>
internal sealed record AuthMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Auth;
    [JsonPropertyName("user")] public required string User { get; init; }
    [JsonPropertyName("challenge")] public required byte[] Challenge { get; init; }
    [JsonPropertyName("proof")] public required byte[] Proof { get; init; }
}

/// <summary>The server accepted the client and proves that it knows the key too.</summary>
internal sealed record AuthOkMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.AuthOk;
    [JsonPropertyName("proof")] public required byte[] Proof { get; init; }
    /// <summary>The user's permissions, for the client's information: read, write, exec.</summary>
    [JsonPropertyName("allow")] public IReadOnlyList<string>? Allow { get; init; }
    /// <summary>True when every later frame carries a MAC trailer (plain TCP; docs/security.md §4).</summary>
    [JsonPropertyName("frame_mac")] public bool FrameMac { get; init; }
}
