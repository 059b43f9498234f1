using System.Text.Json.Serialization;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// The fields <see cref="NatsPartReader"/> needs of an object's record in the data bucket (the object store's
/// <c>ObjectMetadata</c>, JSON on <c>$O.{bucket}.M.{name in base64url}</c>). Read from the stream directly rather than
/// through the object store so that the record's stream sequence comes with it: the object's chunks were all stored
/// before it. The sweep reads the records the same way (<see cref="NatsBuckets.ListObjectsAsync"/>).
/// </summary>
internal sealed record NatsObjectRecord
{
    [JsonPropertyName("name")] public string? Name { get; init; }

    [JsonPropertyName("nuid")] public string? Nuid { get; init; }

    [JsonPropertyName("size")] public long Size { get; init; }

    [JsonPropertyName("chunks")] public int Chunks { get; init; }

    [JsonPropertyName("deleted")] public bool Deleted { get; init; }
}
