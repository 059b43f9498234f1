using System.Runtime.InteropServices;

namespace Ferry.Cli;

/// <summary>
/// Keeps a client process that trusts servers by their pinned fingerprint (every client command without --trust-ca)
/// from loading the system's CA certificates. The runtime builds a chain for every server certificate, and on Linux
/// that first loads the whole trust store (the CA bundle and one file per CA under /etc/ssl/certs): half of the CPU
/// of a short command such as <c>ferry exec -- true</c> (docs/benchmarks.md), for a verdict the pin overrides anyway.
/// </summary>
internal static partial class SystemTrustStore
{
    /// <summary>
    /// Set by <see cref="Program.Main"/> only: the process is the ferry command itself, whose environment is its own.
    /// Commands run in-process (tests) leave the store alone.
    /// </summary>
    public static bool MayLeaveUnloaded { get; set; }

    /// <summary>
    /// Points OpenSSL's trust locations (SSL_CERT_FILE, SSL_CERT_DIR, read from the native environment when the runtime
    /// first loads the store) at nothing. Only before the first TLS handshake of the process, and only when no CA may
    /// vouch for a server in it.
    /// </summary>
    public static void LeaveUnloaded()
    {
        if (!MayLeaveUnloaded || !(OperatingSystem.IsLinux() || OperatingSystem.IsFreeBSD()))
            return;
        _ = setenv("SSL_CERT_FILE", "/dev/null", 1);
        _ = setenv("SSL_CERT_DIR", "/dev/null", 1);
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}
