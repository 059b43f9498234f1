using System.Text.Json.Serialization;

namespace Ferry.Protocol.Messages;

/// <summary>Source-generated serializers for every message; wire names are set per property, never by policy.</summary>
/// <remarks>
/// Generated deserializers assign every init-only property, present or not, so an optional field must be nullable or
/// have default(T) as its default: an initializer such as <c>= []</c> would be overwritten with null.
/// </remarks>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    GenerationMode = JsonSourceGenerationMode.Default)]
[JsonSerializable(typeof(HelloMessage))]
[JsonSerializable(typeof(ErrorMessage))]
[JsonSerializable(typeof(OkMessage))]
[JsonSerializable(typeof(EchoMessage))]
[JsonSerializable(typeof(ByeMessage))]
public sealed partial class FerryJsonContext : JsonSerializerContext;
