using System.Text.Json.Serialization;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;

namespace Ferry.Protocol.Messages;

/// <summary>Protocol constants.</summary>
internal static class ProtocolVersion
{
    /// <summary>The version this build speaks. A peer with another version gets <c>version_unsupported</c>.</summary>
    public const int Current = 1;
}

/// <summary>
/// First frame of each side (docs/protocol.md §3): the protocol version and the features the sender supports, so that
/// later capabilities are negotiated rather than guessed.
/// </summary>
internal sealed record HelloMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Hello;
    [JsonPropertyName("version")] public required int Version { get; init; }
    /// <summary>Feature names; absent means none.</summary>
    [JsonPropertyName("features")] public IReadOnlyList<string>? Features { get; init; }
    /// <summary>Free-form software name and version, for logs.</summary>
    [JsonPropertyName("agent")] public string? Agent { get; init; }

    /// <summary>Server only: the authentication method required (<c>hmac-sha256</c>), or absent/<c>none</c> when the server has no authentication.</summary>
    [JsonPropertyName("auth")] public string? Auth { get; init; }

    /// <summary>Server only: its fresh 32-byte challenge (base64) when authentication is required.</summary>
    [JsonPropertyName("challenge")] public byte[]? Challenge { get; init; }
}

/// <summary>Every failure, in both directions: a stable <c>code</c> (docs/errors.md) and a sentence for humans.</summary>
internal sealed record ErrorMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Error;
    [JsonPropertyName("code")] public required string Code { get; init; }
    [JsonPropertyName("message")] public required string Message { get; init; }
    /// <summary>True when the sender closes the connection after this frame.</summary>
    [JsonPropertyName("fatal")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool Fatal { get; init; }

    /// <summary>The exception a peer's error frame becomes on this side: its code mapped (unknown codes kept as sent), its message as is.</summary>
    public FerryRemoteException ToException() => new(FerryErrorCodes.FromWire(Code), Code, Message);
}

/// <summary>Generic success reply for commands that return nothing else.</summary>
internal sealed record OkMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Ok;
}

/// <summary>The socketserver demo: the server answers with the body upper-cased.</summary>
internal sealed record EchoMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Echo;
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
}

/// <summary>Polite end of a session; the server closes after answering <c>ok</c>.</summary>
internal sealed record ByeMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Bye;
}
