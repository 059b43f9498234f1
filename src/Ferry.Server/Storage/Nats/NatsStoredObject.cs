namespace Ferry.Server.Storage.Nats;

/// <summary>One object of the data bucket as the sweep sees it: its name, its chunks' id and when its record was stored.</summary>
internal sealed record NatsStoredObject(string Name, string? Nuid, DateTimeOffset StoredAt);
