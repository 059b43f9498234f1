using System.Text.Json.Serialization;

namespace Ferry.Server.Storage.Nats;

[JsonSerializable(typeof(NatsEntry))]
[JsonSerializable(typeof(NatsObjectRecord))]
[JsonSerializable(typeof(NatsReservation))]
[JsonSerializable(typeof(NatsUploadState))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class NatsJsonContext : JsonSerializerContext;
