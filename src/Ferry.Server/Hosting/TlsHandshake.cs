using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Ferry.Protocol.Transport;

namespace Ferry.Server.Hosting;

/// <summary>
/// The server side of the TLS handshake: the certificate context built once, a bound on handshakes in progress at
/// once (each costs a private-key operation; a flood of them must not starve everything else of CPU) and a deadline
/// for each, counted from when it gets its turn.
/// </summary>
internal sealed class TlsHandshake
{
    private readonly SslStreamCertificateContext _certificateContext;
    private readonly SemaphoreSlim _slots;
    private readonly TimeSpan _timeout;
    private readonly int _maxConcurrent;

    public TlsHandshake(X509Certificate2 certificate, int maxConcurrent, TimeSpan timeout)
    {
        // Built once: per-handshake certificate setup was a large share of TLS connection cost.
        _certificateContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
        _slots = new SemaphoreSlim(maxConcurrent, maxConcurrent);
        _timeout = timeout;
        _maxConcurrent = maxConcurrent;
    }

    /// <summary>Handshakes in progress now.</summary>
    public int InProgress => _maxConcurrent - _slots.CurrentCount;

    /// <summary>
    /// Runs the handshake over <paramref name="network"/>. Waits for a free slot first (as long as
    /// <paramref name="cancellationToken"/> allows); with <paramref name="waitForSlot"/> false, gives up at once when
    /// none is free. Returns null, with the reason, when the handshake failed, timed out or was cancelled (then
    /// <paramref name="network"/> is disposed when the handshake had begun; the caller disposes it either way).
    /// </summary>
    public async Task<(SslStream? Tls, string? Failure)> AuthenticateAsync(Stream network, bool waitForSlot, CancellationToken cancellationToken)
    {
        try
        {
            if (waitForSlot)
                await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            else if (!_slots.Wait(0, CancellationToken.None))
                return (null, "no free handshake slot");
        }
        catch (OperationCanceledException)
        {
            return (null, "cancelled while waiting for a handshake slot");
        }

        var tls = new SslStream(network, leaveInnerStreamOpen: false);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(_timeout);
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = _certificateContext,
                ClientCertificateRequired = false,
                ApplicationProtocols = [TlsSettings.ApplicationProtocol],
                // No CipherSuitesPolicy here, deliberately: on Linux an SslStream with one gets an OpenSSL context
                // (SSL_CTX) of its own, built for each handshake and kept for the connection's life; without one,
                // every connection shares one cached context. Measured with 5000 idle connections: about 10 KiB less
                // per connection and less server CPU per handshake (docs/benchmarks.md). The server's order is then
                // OpenSSL's default, AES-256-GCM first; a Ferry client still gets AES-128-GCM by offering it alone in
                // TLS 1.3 (TlsSettings.CipherSuites), since it costs less per byte.
            }, deadline.Token).ConfigureAwait(false);
            if (!TlsSettings.IsAcceptable(tls.NegotiatedCipherSuite))
            {
                // What the server's missing suite list would otherwise let through: a TLS 1.2 client that asked for
                // CBC or a static-RSA key exchange. No frame is read on such a connection.
                var suite = tls.NegotiatedCipherSuite;
                await tls.DisposeAsync().ConfigureAwait(false);
                return (null, $"the client negotiated {suite}, which is not an AEAD suite with forward secrecy");
            }
            return (tls, null);
        }
        catch (Exception ex) when (ex is IOException or AuthenticationException or OperationCanceledException or System.Net.Sockets.SocketException
                                       or ObjectDisposedException)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            return (null, ex is OperationCanceledException ? "timed out or cancelled" : ex.Message);
        }
        finally
        {
            _slots.Release();
        }
    }
}
