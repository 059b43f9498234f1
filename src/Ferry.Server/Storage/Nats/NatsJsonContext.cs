using System.Text.Json.Serialization;

namespace Ferry.Server.Storage.Nats;

[JsonSerializable(typeof(NatsEntry))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class NatsJsonContext : JsonSerializerContext;
