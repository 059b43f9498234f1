using Ferry.Protocol.Errors;
using Ferry.Server.Hosting;
using NATS.Client.Core;

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

    /// <summary>True for a <c>tls://</c> store or one with a CA file: the connection must be TLS, never plain.</summary>
    public bool Tls { get; init; }

    /// <summary>Credentials and TLS files (user/password file, creds file, CA, client certificate); none by default.</summary>
    public NatsStoreSettings? Access { get; init; }

    /// <summary>The address list NATS.Net connects to (it tries them in turn and follows the cluster when one fails).</summary>
    public string Url => string.Join(",", Servers.Select(s => (Tls ? "tls://" : "nats://") + s));

    /// <summary>
    /// The one place the settings become NATS.Net options: user and password (read from its file now), or a creds file;
    /// TLS required, with the CA and the client certificate, when asked for. Secrets go to NATS.Net and nowhere else.
    /// </summary>
    public NatsOpts ToNatsOpts(string name)
    {
        var opts = new NatsOpts { Url = Url, Name = name };
        if (Access is not { } access)
            return opts;
        var auth = NatsAuthOpts.Default;
        if (access.User is { } user && access.PasswordFile is { } passwordFile)
            auth = auth with { Username = user, Password = ReadPassword(passwordFile) };
        if (access.CredsFile is { } creds)
            auth = auth with { CredsFile = creds };
        var tls = NatsTlsOpts.Default;
        if (Tls)
            tls = tls with { Mode = TlsMode.Require, CaFile = access.TlsCa, CertFile = access.TlsCert, KeyFile = access.TlsKey };
        return opts with { AuthOpts = auth, TlsOpts = tls };
    }

    private string ReadPassword(string path)
    {
        try
        {
            return NatsStoreSettings.ReadPassword(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FerryException(FerryErrorCode.IoError, $"The password file {path} for the NATS store {Url} cannot be read: {ex.Message}", ex);
        }
    }

    /// <summary>The options of <paramref name="settings"/>: its addresses parsed, TLS on for tls:// or a CA file.</summary>
    public static NatsStoreOptions From(NatsStoreSettings settings)
    {
        var options = Parse(settings.Store);
        return options with
        {
            Replicas = settings.Replicas,
            Access = settings,
            Tls = options.Tls || settings.TlsCa is not null || settings.TlsCert is not null,
        };
    }

    /// <summary>
    /// Parses <c>nats://HOST:PORT[,HOST:PORT...]</c> (or <c>tls://</c>, which requires TLS); anything else is
    /// field_invalid with what was expected. Credentials in the address are refused: they would show in process lists and logs.
    /// </summary>
    public static NatsStoreOptions Parse(string store)
    {
        var tls = store.StartsWith("tls://", StringComparison.Ordinal);
        if (!tls && !store.StartsWith("nats://", StringComparison.Ordinal))
            throw new FerryException(FerryErrorCode.FieldInvalid, $"A NATS store is written nats://HOST:PORT[,HOST:PORT...] or tls://HOST:PORT[,...], not '{store}'.");
        var servers = store[(tls ? "tls://" : "nats://").Length..].Split(',', StringSplitOptions.TrimEntries);
        foreach (var server in servers)
        {
            if (server.Contains('@', StringComparison.Ordinal))
                throw new FerryException(FerryErrorCode.FieldInvalid, "A NATS store address must not hold credentials; give them with nats_user and nats_password_file, or nats_creds_file.");
            var colon = server.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(server[(colon + 1)..], out var port) || port is < 1 or > 65535)
                throw new FerryException(FerryErrorCode.FieldInvalid, $"'{server}' in '{store}' is not HOST:PORT.");
        }
        return new NatsStoreOptions { Servers = servers, Tls = tls };
    }
}
