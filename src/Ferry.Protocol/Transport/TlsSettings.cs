using System.Net.Security;

namespace Ferry.Protocol.Transport;

/// <summary>TLS settings of Ferry's client and server.</summary>
internal static class TlsSettings
{
    /// <summary>The ALPN name of this protocol.</summary>
    public static readonly SslApplicationProtocol ApplicationProtocol = new("ferry/1");

    /// <summary>
    /// The client's offer: AEAD suites only, AES-128-GCM first: OpenSSL's default order puts AES-256-GCM first, which
    /// costs about 10% more CPU per byte (AES-NI) for no practical gain at this key size; ChaCha20 stays for machines
    /// without AES instructions. Null where the platform does not let an application choose (Windows uses the system
    /// policy). The server does not use it: a policy gives each server connection an OpenSSL context of its own (see
    /// TlsHandshake), and the server's own preference decides, so a Ferry server picks OpenSSL's default order.
    /// </summary>
    public static CipherSuitesPolicy? CipherSuites { get; } = OperatingSystem.IsLinux() || OperatingSystem.IsFreeBSD()
        ? new CipherSuitesPolicy(
        [
            TlsCipherSuite.TLS_AES_128_GCM_SHA256,
            TlsCipherSuite.TLS_AES_256_GCM_SHA384,
            TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
            TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ])
        : null;

    /// <summary>
    /// Whether a negotiated suite is one Ferry accepts: an AEAD cipher (GCM, CCM, ChaCha20-Poly1305) with forward secrecy
    /// (any TLS 1.3 suite, or ECDHE/DHE in TLS 1.2). The server checks it after every handshake because it sets no suite
    /// list of its own (see TlsHandshake), so a TLS 1.2 client that asks for CBC or static RSA is refused after the
    /// handshake instead of being served with it.
    /// </summary>
    public static bool IsAcceptable(TlsCipherSuite suite)
    {
        var name = suite.ToString();
        var tls13 = name.StartsWith("TLS_AES_", StringComparison.Ordinal) || name.StartsWith("TLS_CHACHA20_", StringComparison.Ordinal);
        var forwardSecret = tls13 || name.StartsWith("TLS_ECDHE_", StringComparison.Ordinal) || name.StartsWith("TLS_DHE_", StringComparison.Ordinal);
        var aead = name.Contains("_GCM_", StringComparison.Ordinal) || name.Contains("_CCM", StringComparison.Ordinal)
                   || name.Contains("CHACHA20_POLY1305", StringComparison.Ordinal);
        return forwardSecret && aead;
    }
}
