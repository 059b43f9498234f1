using System.Text.RegularExpressions;

namespace Ferry.Server.Hosting;

/// <summary>
/// How a server (or <c>ferry user --store</c>) reaches its NATS store: the addresses, the replicas of what it creates,
/// the credentials and TLS of the connection, and where audit records go. Secrets are never held here as text: the
/// password and the nkey seed stay in their files, which are read only when connecting. <see cref="Problems"/> checks
/// everything that can be checked before connecting.
/// </summary>
public sealed partial record NatsStoreSettings
{
    /// <summary>Default <see cref="AuditStreamMaxAge"/>: records older than this leave the stream.</summary>
    public static readonly TimeSpan DefaultAuditStreamMaxAge = TimeSpan.FromDays(30);

    /// <summary><c>nats://HOST:PORT[,HOST:PORT...]</c>, or <c>tls://...</c> to require TLS.</summary>
    public required string Store { get; init; }

    /// <summary>Copies JetStream keeps of every bucket and stream this creates (1 to 5). Default 3.</summary>
    public int Replicas { get; init; } = 3;

    /// <summary>User name for the cluster's user/password authorization; needs <see cref="PasswordFile"/>.</summary>
    public string? User { get; init; }

    /// <summary>A file holding the password of <see cref="User"/> (a trailing line break is not part of it).</summary>
    public string? PasswordFile { get; init; }

    /// <summary>A NATS credentials file (user JWT and nkey seed), for clusters run with accounts; excludes user/password.</summary>
    public string? CredsFile { get; init; }

    /// <summary>PEM CA certificate(s) to verify the NATS servers with; setting it turns TLS on.</summary>
    public string? TlsCa { get; init; }

    /// <summary>PEM client certificate for clusters that verify their clients; needs <see cref="TlsKey"/>.</summary>
    public string? TlsCert { get; init; }

    /// <summary>PEM private key of <see cref="TlsCert"/>.</summary>
    public string? TlsKey { get; init; }

    /// <summary>A JetStream stream that receives every audit record (subject <c>{stream}.{server}</c>), or null for none.</summary>
    public string? AuditStream { get; init; }

    /// <summary>How long the audit stream keeps a record. Default 30 days.</summary>
    public TimeSpan AuditStreamMaxAge { get; init; } = DefaultAuditStreamMaxAge;

    /// <summary>
    /// What is wrong, each as the setting's key and a sentence; empty when the settings can be used. Files are checked
    /// for existence (and the password file for a readable, non-empty password) without showing their contents.
    /// </summary>
    public IReadOnlyList<(string Key, string Problem)> Problems()
    {
        var problems = new List<(string, string)>();
        void Fail(string key, string problem) => problems.Add((key, problem));

        if (!Store.StartsWith("nats://", StringComparison.Ordinal) && !Store.StartsWith("tls://", StringComparison.Ordinal))
            Fail("store", $"must be nats://HOST:PORT[,HOST:PORT...] or tls://HOST:PORT[,...] (or left out for local folders), not '{Store}'.");
        else if (Store.Contains('@', StringComparison.Ordinal))
            Fail("store", "must not hold credentials; give them with nats_user and nats_password_file, or nats_creds_file.");
        else
        {
            // The same parse as at connection time, so that --print-config and a start refuse exactly the same addresses.
            try
            {
                Storage.Nats.NatsStoreOptions.Parse(Store);
            }
            catch (Protocol.Errors.FerryException ex)
            {
                Fail("store", ex.Message);
            }
        }
        if (Replicas is < 1 or > 5)
            Fail("nats_replicas", $"must be 1 to 5, not {Replicas}.");

        if (User is not null && string.IsNullOrWhiteSpace(User))
            Fail("nats_user", "is empty; leave it out when the cluster needs no user.");
        if (User is not null && PasswordFile is null)
            Fail("nats_user", "needs nats_password_file (a file holding the password; never the password itself).");
        if (PasswordFile is { } passwordFile)
        {
            if (User is null)
                Fail("nats_password_file", "needs nats_user.");
            if (PasswordProblem(passwordFile) is { } problem)
                Fail("nats_password_file", problem);
        }
        if (CredsFile is { } creds)
        {
            if (User is not null || PasswordFile is not null)
                Fail("nats_creds_file", "cannot be used together with nats_user and nats_password_file; choose one way to log in.");
            Exists("nats_creds_file", creds);
        }
        if (TlsCa is { } ca)
            Exists("nats_tls_ca", ca);
        if (TlsCert is { } cert)
        {
            Exists("nats_tls_cert", cert);
            if (TlsKey is null)
                Fail("nats_tls_cert", "needs nats_tls_key (the certificate's private key).");
        }
        if (TlsKey is { } key)
        {
            Exists("nats_tls_key", key);
            if (TlsCert is null)
                Fail("nats_tls_key", "needs nats_tls_cert (the client certificate it belongs to).");
        }

        if (AuditStream is { } stream && !StreamName().IsMatch(stream))
            Fail("audit_stream", $"'{stream}' is not a stream name: use letters, digits, '-' and '_', up to 64 characters.");
        if (!(AuditStreamMaxAge > TimeSpan.Zero))
            Fail("audit_stream_max_age", $"must be a positive number of days, not {AuditStreamMaxAge.TotalDays}.");
        return problems;

        void Exists(string settingKey, string path)
        {
            if (string.IsNullOrWhiteSpace(path))
                Fail(settingKey, "is empty; leave it out or name a file.");
            else if (!File.Exists(path))
                Fail(settingKey, $"{path} does not exist.");
        }
    }

    /// <summary>Reads the password (without a trailing line break); the file's contents never appear in an error.</summary>
    internal static string ReadPassword(string path) => File.ReadAllText(path).TrimEnd('\r', '\n');

    private static string? PasswordProblem(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            return "is empty; name the file that holds the password.";
        if (!File.Exists(path))
            return $"{path} does not exist.";
        try
        {
            return ReadPassword(path).Length == 0 ? $"{path} is empty; it must hold the password." : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"{path} cannot be read: {ex.Message}";
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex StreamName();
}
