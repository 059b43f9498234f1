using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ferry.Client.Security;

/// <summary>
/// Certificate pins held in memory, for the lifetime of this object: nothing is read from or written to disk. Seed it
/// with the fingerprints you expect (<c>ferry serve</c> prints its own at start) and turn
/// <see cref="FerryClientOptions.TrustOnFirstUse"/> off to accept only those servers.
/// </summary>
public sealed class InMemoryServerTrustStore : IServerTrustStore
{
    private readonly ConcurrentDictionary<string, string> _pins = new(StringComparer.Ordinal);

    /// <summary>An empty store.</summary>
    public InMemoryServerTrustStore()
    {
    }

    /// <summary>A store holding <paramref name="pins"/>: server (<c>HOST:PORT</c>) to fingerprint (<c>SHA256:…</c>).</summary>
    public InMemoryServerTrustStore(IEnumerable<KeyValuePair<string, string>> pins)
    {
        ArgumentNullException.ThrowIfNull(pins);
        foreach (var (server, fingerprint) in pins)
            Pin(server, fingerprint);
    }

    /// <summary>The pins held now, server to fingerprint.</summary>
    public IReadOnlyDictionary<string, string> Pins => new Dictionary<string, string>(_pins, StringComparer.Ordinal);

    /// <inheritdoc />
    public string? Find(string server) => _pins.TryGetValue(server, out var fingerprint) ? fingerprint : null;

    /// <inheritdoc />
    public void Pin(string server, string fingerprint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(server);
        ArgumentException.ThrowIfNullOrWhiteSpace(fingerprint);
        _pins[server] = fingerprint;
    }

    /// <summary>The fingerprint of <paramref name="certificate"/> as pins write it: <c>SHA256:</c> + unpadded base64 of its SHA-256.</summary>
    public static string Fingerprint(X509Certificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return "SHA256:" + Convert.ToBase64String(SHA256.HashData(certificate.GetRawCertData())).TrimEnd('=');
    }

    /// <inheritdoc />
    public override string ToString() => "the client's in-memory trust store";
}
