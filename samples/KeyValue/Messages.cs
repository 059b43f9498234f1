using System.Text.Json.Serialization;

namespace KeyValue;

// The sample's own commands, on Ferry's framing: a JSON header with "cmd" (and "bodysize" when a body follows), then
// the body. set carries the value as its body; get is answered by "value" with the value as its body.

/// <summary>A client's request: <c>set</c> (body: the value), <c>get</c> or <c>del</c>.</summary>
public sealed record KvRequest
{
    [JsonPropertyName("cmd")] public required string Cmd { get; init; }
    [JsonPropertyName("key")] public string? Key { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
}

/// <summary>The server's answer: <c>ok</c>, or <c>value</c> with the value as its body.</summary>
public sealed record KvReply
{
    [JsonPropertyName("cmd")] public required string Cmd { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault)]
[JsonSerializable(typeof(KvRequest))]
[JsonSerializable(typeof(KvReply))]
public sealed partial class KvJson : JsonSerializerContext;
