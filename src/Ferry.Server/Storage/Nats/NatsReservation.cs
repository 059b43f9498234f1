using System.Text.Json.Serialization;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// Room an upload in progress holds in its user's quota, under <c>q.{user}.{id}</c>: created before any data flows
/// (create-only, so its revision orders it among all reservations of the cluster) and renewed while the upload runs. One
/// whose lease ran out (its server died) no longer counts, and the sweep deletes it.
/// </summary>
internal sealed record NatsReservation
{
    /// <summary>The bytes the upload adds: its size less what it replaces.</summary>
    [JsonPropertyName("bytes")] public long Bytes { get; init; }

    [JsonPropertyName("expires_ms")] public long ExpiresUnixMs { get; init; }
}
