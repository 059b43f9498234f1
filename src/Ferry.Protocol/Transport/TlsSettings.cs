using System.Net.Security;

namespace Ferry.Protocol.Transport;

/// <summary>TLS settings of Ferry's client and server.</summary>
internal static class TlsSettings
{
    /// <summary>The ALPN name of this protocol.</summary>
    public static readonly SslApplicationProtocol ApplicationProtocol = new("ferry/1");

    /// <summary>
    /// The client's first offer: in TLS 1.3 AES-128-GCM alone, then the TLS 1.2 AEAD suites with forward secrecy. In TLS
    /// 1.3 the server's order decides (.NET's OpenSSL server does, and a Ferry server sets no list of its own, see
    /// TlsHandshake), and OpenSSL's default order is AES-256-GCM, ChaCha20-Poly1305, AES-128-GCM: any offer holding
    /// AES-256 or ChaCha20 gets one of them. AES-128-GCM costs less per byte than both on x86 servers with AES
    /// instructions (docs/benchmarks.md, "TLS suites"). A server that refuses it is asked again with
    /// <see cref="FallbackCipherSuites"/>. Null where the platform does not let an application choose (Windows uses the
    /// system policy).
    /// </summary>
    public static CipherSuitesPolicy? CipherSuites { get; } = OperatingSystem.IsLinux() || OperatingSystem.IsFreeBSD()
        ? new CipherSuitesPolicy(
        [
            TlsCipherSuite.TLS_AES_128_GCM_SHA256,
            .. Tls12Suites,
        ])
        : null;

    /// <summary>
    /// The offer of a second handshake when the first one failed (a server whose TLS 1.3 suites leave out AES-128-GCM,
    /// e.g. a system policy of 256-bit ciphers only): every AEAD suite, AES-128-GCM first for servers that follow the
    /// client's order. Null where <see cref="CipherSuites"/> is.
    /// </summary>
    public static CipherSuitesPolicy? FallbackCipherSuites { get; } = OperatingSystem.IsLinux() || OperatingSystem.IsFreeBSD()
        ? new CipherSuitesPolicy(
        [
            TlsCipherSuite.TLS_AES_128_GCM_SHA256,
            TlsCipherSuite.TLS_AES_256_GCM_SHA384,
            TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
            .. Tls12Suites,
        ])
        : null;

    /// <summary>TLS 1.2: ECDHE with an AEAD cipher only, AES-128-GCM first.</summary>
    private static TlsCipherSuite[] Tls12Suites =>
    [
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];

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
