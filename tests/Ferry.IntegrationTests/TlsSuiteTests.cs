using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ferry.Client;
using Ferry.Protocol.Transport;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// The server sets no suite list of its own (a shared OpenSSL context costs far less per connection), so it checks the
/// negotiated suite after every handshake: only AEAD with forward secrecy goes on to the protocol.
/// </summary>
public class TlsSuiteTests
{
    [Theory]
    [InlineData(TlsCipherSuite.TLS_AES_128_GCM_SHA256, true)]
    [InlineData(TlsCipherSuite.TLS_AES_256_GCM_SHA384, true)]
    [InlineData(TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256, true)]
    [InlineData(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, true)]
    [InlineData(TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, true)]
    [InlineData(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, false)]
    [InlineData(TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, false)]
    [InlineData(TlsCipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256, false)] // AEAD, but no forward secrecy
    [InlineData(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_NULL_SHA, false)]
    public void Only_aead_suites_with_forward_secrecy_are_acceptable(TlsCipherSuite suite, bool acceptable) =>
        Assert.Equal(acceptable, TlsSettings.IsAcceptable(suite));

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // a client cannot choose its suites there
    public async Task A_tls12_client_that_negotiates_cbc_is_disconnected_before_any_frame()
    {
        // A long header timeout: a server that accepted the suite would wait that long for the client's first frame.
        await using var server = await TestServer.StartAsync(o => o with { UseTls = true, HeaderTimeout = TimeSpan.FromMinutes(5) });
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.EndPoint, TestTimeouts.Token());
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                EnabledSslProtocols = SslProtocols.Tls12,
                CipherSuitesPolicy = new CipherSuitesPolicy([TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384, TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA]),
                ApplicationProtocols = [TlsSettings.ApplicationProtocol],
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            }, TestTimeouts.Token());
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            return; // refused during the handshake (a system policy without CBC): nothing reached the protocol either
        }
        Assert.False(TlsSettings.IsAcceptable(tls.NegotiatedCipherSuite)); // OpenSSL's default list here lets CBC-SHA384 through

        // The server closes the connection at once instead of waiting for a hello.
        using var closed = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var buffer = new byte[64];
        try
        {
            var n = await tls.ReadAsync(buffer, closed.Token);
            Assert.Equal(0, n);
        }
        catch (IOException)
        {
            // a reset is a close as well
        }
        Assert.False(closed.IsCancellationRequested, "the server kept a CBC connection open");
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // a client cannot choose its suites there
    public async Task A_ferry_client_and_server_agree_on_aes_128_gcm()
    {
        // The server sets no list and OpenSSL's own order puts AES-256-GCM first; the client's first offer holds AES-128-GCM
        // alone in TLS 1.3 because the server's order decides.
        await using var server = await TestServer.StartAsync(o => o with { UseTls = true });
        await using var client = await server.ConnectAsync();
        Assert.Equal(TlsCipherSuite.TLS_AES_128_GCM_SHA256, client.CipherSuite);
        Assert.Equal("HI", System.Text.Encoding.UTF8.GetString(await client.EchoAsync("hi"u8.ToArray(), TestTimeouts.Token())));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_server_that_refuses_aes_128_is_asked_again_with_every_aead_suite_and_gets_aes_256()
    {
        // A TLS 1.3 server restricted to AES-256-GCM (as a system policy of 256-bit ciphers would make it): the first
        // handshake finds no shared suite, the second, on a new connection, agrees on AES-256-GCM.
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=aes-256-only", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var handshakes = new List<string>();
        var serving = Task.Run(async () =>
        {
            for (var i = 0; i < 2; i++)
            {
                using var socket = await listener.AcceptSocketAsync(TestTimeouts.Token());
                await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
                try
                {
                    await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                    {
                        ServerCertificate = certificate,
                        EnabledSslProtocols = SslProtocols.Tls13,
                        CipherSuitesPolicy = new CipherSuitesPolicy([TlsCipherSuite.TLS_AES_256_GCM_SHA384]),
                        ApplicationProtocols = [TlsSettings.ApplicationProtocol],
                    }, TestTimeouts.Token());
                    handshakes.Add(tls.NegotiatedCipherSuite.ToString());
                }
                catch (Exception ex) when (ex is AuthenticationException or IOException)
                {
                    handshakes.Add("failed");
                }
            }
        });
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        // Not a Ferry server: after the handshake it closes, so the client fails at the hello; what counts is the suite.
        await Assert.ThrowsAnyAsync<Exception>(() => FerryClient.ConnectAsync(new ServerAddress("127.0.0.1", port),
            new FerryClientOptions { ConnectAttempts = 1 }, TestTimeouts.Token()));
        await serving.WaitAsync(TestTimeouts.Token());
        Assert.Equal(new[] { "failed", nameof(TlsCipherSuite.TLS_AES_256_GCM_SHA384) }, handshakes);
    }
}
