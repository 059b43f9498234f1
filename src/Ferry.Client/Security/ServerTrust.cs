using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Transport;

namespace Ferry.Client.Security;

/// <summary>
/// Decides whether to trust a server's TLS certificate: a CA-signed certificate when the user allows it, otherwise
/// the fingerprint pinned for that server in the trust store (recorded on first use, like ssh). A first-use fingerprint
/// is only returned, not pinned: the caller pins it with <see cref="PinFirstUse"/> once the server has proved that it
/// knows the user's key, so an impostor that fails the proof never becomes the pinned server.
/// </summary>
internal static class ServerTrust
{
    public static async Task<(SslStream Stream, byte[] CertificateDer, string? FirstUseFingerprint)> AuthenticateAsync(Stream network, ServerAddress address, FerryClientOptions options,
        CipherSuitesPolicy? suites, CancellationToken cancellationToken)
    {
        var server = address.ToString();
        var known = options.TrustStore;
        FerryException? refusal = null;
        string? firstUse = null;
        byte[]? certificateDer = null;

        var tls = new SslStream(network, leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = address.Host,
                ApplicationProtocols = [TlsSettings.ApplicationProtocol],
                CipherSuitesPolicy = suites,
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (certificate is null)
                    {
                        refusal = new FerryException(FerryErrorCode.CertificateMismatch, $"{server} presented no certificate.");
                        return false;
                    }
                    certificateDer = certificate.GetRawCertData();
                    var fingerprint = KnownServers.Fingerprint(certificate);
                    if (options.TrustCaSigned && errors == SslPolicyErrors.None)
                        return true;
                    var pinned = known.Find(server);
                    if (pinned is null)
                    {
                        if (!options.TrustOnFirstUse)
                        {
                            refusal = new FerryException(FerryErrorCode.CertificateMismatch,
                                $"{server} is not in {known} and trust on first use is off; its fingerprint is {fingerprint}.");
                            return false;
                        }
                        firstUse = fingerprint;
                        return true;
                    }
                    if (pinned == fingerprint)
                        return true;
                    refusal = new FerryException(FerryErrorCode.CertificateMismatch,
                        $"WARNING: the certificate of {server} has CHANGED (pinned {pinned}, now {fingerprint}). Someone may be intercepting the " +
                        $"connection. If the server's certificate really was replaced, remove its line from {known} and connect again.");
                    return false;
                },
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (refusal is not null && ex is System.Security.Authentication.AuthenticationException or IOException)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw refusal;
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return (tls, certificateDer!, firstUse);
    }

    /// <summary>Records a first-use fingerprint in the trust store; called only after the server's proof verified.</summary>
    public static void PinFirstUse(ServerAddress address, FerryClientOptions options, string fingerprint)
    {
        var server = address.ToString();
        options.TrustStore.Pin(server, fingerprint);
        options.OnFirstUse?.Invoke(server, fingerprint);
    }
}
