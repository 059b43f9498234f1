using System.Text.Json.Serialization;

namespace Ferry.Protocol.Messages;

/// <summary>Source-generated serializers for every message; wire names are set per property, never by policy.</summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    GenerationMode = JsonSourceGenerationMode.Default)]
[JsonSerializable(typeof(HelloMessage))]
[JsonSerializable(typeof(ErrorMessage))]
[JsonSerializable(typeof(OkMessage))]
[JsonSerializable(typeof(EchoMessage))]
[JsonSerializable(typeof(ByeMessage))]
public sealed partial class FerryJsonContext : JsonSerializerContext;
