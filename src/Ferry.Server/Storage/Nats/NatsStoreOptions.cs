using Ferry.Protocol.Errors;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// Where a NATS-backed server keeps its files: the cluster's client addresses, the prefix of its buckets, and how many
/// copies JetStream keeps of each (RAFT replicas; 3 survives the loss of any one node of three).
/// </summary>
internal sealed record NatsStoreOptions
{
    public required IReadOnlyList<string> Servers { get; init; }

    /// <summary>
    /// Buckets are <c>{prefix}-meta</c> (the namespace) and <c>{prefix}-users</c>, key/value buckets, and
    /// <c>{prefix}-data</c> (file contents, an object store).
    /// </summary>
    public string BucketPrefix { get; init; } = "ferry";

    public int Replicas { get; init; } = 3;

    public string MetaBucket => BucketPrefix + "-meta";
    public string UsersBucket => BucketPrefix + "-users";
    public string DataBucket => BucketPrefix + "-data";

    /// <summary>The address list NATS.Net connects to (it tries them in turn and follows the cluster when one fails).</summary>
    public string Url => string.Join(",", Servers.Select(s => "nats://" + s));

    /// <summary>
    /// Parses <c>nats://HOST:PORT[,HOST:PORT...]</c>; anything else is field_invalid with what was expected.
    /// </summary>
    public static NatsStoreOptions Parse(string store)
    {
        const string Scheme = "nats://";
        if (!store.StartsWith(Scheme, StringComparison.Ordinal))
            throw new FerryException(FerryErrorCode.FieldInvalid, $"A NATS store is written nats://HOST:PORT[,HOST:PORT...], not '{store}'.");
        var servers = store[Scheme.Length..].Split(',', StringSplitOptions.TrimEntries);
        foreach (var server in servers)
        {
            var colon = server.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(server[(colon + 1)..], out var port) || port is < 1 or > 65535)
                throw new FerryException(FerryErrorCode.FieldInvalid, $"'{server}' in '{store}' is not HOST:PORT.");
        }
        return new NatsStoreOptions { Servers = servers };
    }
}
