using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ferry.Client;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Transport;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// A hostile or lying server on 127.0.0.1, port 0: serves one connection (optionally inside TLS with its own throw-away
/// certificate), hands every frame to a script, and records what the client sent (commands and body bytes), so a test
/// can assert that nothing reached it.
/// </summary>
internal sealed class FakeServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Task _serving;

    /// <summary>Answers one frame; writes replies through the writer (flushed after it returns). The body is drained and counted afterwards.</summary>
    public delegate Task FrameScript(FrameHeader header, FrameReader reader, FrameWriter writer, CancellationToken cancellationToken);

    private FakeServer(FrameScript script, X509Certificate2? certificate)
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _serving = ServeAsync(script, certificate);
    }

    public static FakeServer Start(FrameScript script, bool tls = false) =>
        new(script, tls ? SelfSignedCertificate() : null);

    public ServerAddress Address => new("127.0.0.1", ((IPEndPoint)_listener.LocalEndpoint).Port);

    /// <summary>The commands received, in order.</summary>
    public ConcurrentQueue<string> Commands { get; } = new();

    /// <summary>Body bytes received with any frame.</summary>
    public long BodyBytes => Interlocked.Read(ref _bodyBytes);
    private long _bodyBytes;

    /// <summary>Waits until the client has gone (or the script failed, which rethrows).</summary>
    public Task Finished => _serving;

    private async Task ServeAsync(FrameScript script, X509Certificate2? certificate)
    {
        var ct = TestTimeouts.Token();
        using var socket = await _listener.AcceptSocketAsync(ct);
        Stream stream = new NetworkStream(socket, ownsSocket: false);
        try
        {
            if (certificate is not null)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = certificate,
                    ApplicationProtocols = [TlsSettings.ApplicationProtocol],
                }, ct);
            }
            using var reader = new FrameReader(PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true)));
            using var writer = new FrameWriter(PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true)));
            while (await reader.ReadFrameAsync(ct) is { } header)
            {
                Commands.Enqueue(header.Command);
                await script(header, reader, writer, ct);
                while (reader.BodyRemaining > 0)
                {
                    var chunk = await reader.ReadBodyChunkAsync(ct);
                    Interlocked.Add(ref _bodyBytes, chunk.Length);
                    reader.AdvanceBody(chunk, chunk.Length);
                }
                await writer.FlushAsync(ct);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or FerryProtocolException or System.Security.Authentication.AuthenticationException)
        {
            // The client hung up on us (what a refusing client does): the recorded traffic is what the test checks.
        }
        finally
        {
            await stream.DisposeAsync();
        }
    }

    private static X509Certificate2 SelfSignedCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=impostor", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _serving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
