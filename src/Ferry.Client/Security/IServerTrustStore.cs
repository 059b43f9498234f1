namespace Ferry.Client.Security;

/// <summary>
/// Where a client keeps the certificate fingerprint it trusts for each server (<c>HOST:PORT</c> as
/// <see cref="ServerAddress.ToString"/> writes it), like ssh's known_hosts. A connection to a server with a pin must
/// present a certificate with that fingerprint; a server without one is refused, or pinned on first use when
/// <see cref="FerryClientOptions.TrustOnFirstUse"/> allows it.
/// </summary>
/// <remarks>
/// Called from the TLS handshake, possibly from several connections at once: implementations are thread-safe and
/// quick (no network). <see cref="InMemoryServerTrustStore"/> is the default; a program that must remember pins across
/// runs implements this over its own storage.
/// </remarks>
public interface IServerTrustStore
{
    /// <summary>The fingerprint pinned for <paramref name="server"/> (<c>SHA256:</c> + unpadded base64), or null.</summary>
    string? Find(string server);

    /// <summary>
    /// Pins <paramref name="fingerprint"/> for <paramref name="server"/>, replacing an older pin. Called only after the
    /// server proved it knows the client's key (or, without credentials, answered as a Ferry server).
    /// </summary>
    void Pin(string server, string fingerprint);
}
