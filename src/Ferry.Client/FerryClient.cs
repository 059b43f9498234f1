using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Serialization.Metadata;
using Ferry.Client.Security;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Protocol.Transport;
using Microsoft.Extensions.Logging;

namespace Ferry.Client;

/// <summary>
/// A connection to a Ferry server. Created by <see cref="ConnectAsync"/>, which also sets up TLS, exchanges hellos and
/// logs in.
/// </summary>
/// <remarks>
/// <para>
/// One client is one TCP connection and runs one command at a time: the protocol answers commands in order, so calls
/// on one client must not overlap (await each before starting the next: overlapping calls interleave frames and break
/// the connection). For concurrent operations open one client per operation, or keep a small
/// pool of clients; connections are cheap to open on a LAN (one round trip for TCP, one for TLS, one for hello and
/// login). Clients are independent and may be used from different threads.
/// </para>
/// <para>
/// A command cancelled through its token, or ended by a fatal protocol error, leaves the connection out of step with
/// the server: <see cref="IsBroken"/> turns true and every later command fails. Dispose such a client and connect
/// again. <see cref="DisposeAsync"/> closes the connection; <see cref="ByeAsync"/> first says goodbye politely.
/// </para>
/// </remarks>
public sealed partial class FerryClient : IAsyncDisposable
{
    private const int TransportBufferSize = 256 * 1024;
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly FrameReader _reader;
    private readonly FrameWriter _writer;
    private int _disposed;

    private FerryClient(Socket socket, Stream transport, FerryClientOptions options)
    {
        _socket = socket;
        Options = options;
        _stream = transport;
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: TransportBufferSize, minimumReadSize: 16 * 1024, leaveOpen: true));
        _output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: TransportBufferSize, leaveOpen: true));
        _reader = new FrameReader(_input, options.Frames);
        _writer = new FrameWriter(_output, options.Frames);
    }

    /// <summary>The options this client connected with.</summary>
    public FerryClientOptions Options { get; }

    /// <summary>The server this client is connected to.</summary>
    public ServerAddress Address { get; private set; }

    /// <summary>The server's hello: its protocol version and features.</summary>
    internal HelloMessage ServerHello { get; private set; } = null!;

    /// <summary>The protocol version the server speaks (docs/protocol.md §3).</summary>
    public int ServerProtocolVersion => ServerHello.Version;

    /// <summary>The features the server announced in its hello (for example <c>exec</c>, <c>sync</c>); see <see cref="ServerSupports"/>.</summary>
    public IReadOnlyList<string> ServerFeatures => ServerHello.Features ?? [];

    /// <summary>The server's software name and version as it announced them, for logs; null when it sent none.</summary>
    public string? ServerAgent => ServerHello.Agent;

    /// <summary>The user this connection is logged in as; null on a server without authentication.</summary>
    public string? User { get; private set; }

    /// <summary>The server certificate's fingerprint (SHA256:…), or null on plain TCP.</summary>
    public string? ServerFingerprint { get; private set; }

    /// <summary>True when the bytes travel inside TLS.</summary>
    public bool IsTls => _stream is SslStream;

    /// <summary>The TLS cipher suite in use, or null on plain TCP.</summary>
    public TlsCipherSuite? CipherSuite => (_stream as SslStream)?.NegotiatedCipherSuite;

    /// <summary>Whether the server announced <paramref name="feature"/>.</summary>
    public bool ServerSupports(string feature) => ServerHello.Features?.Contains(feature) == true;

    /// <summary>Off: delta transfers use one-level chunk lists even with a server that offers chunk groups, as a client before them did (tests).</summary>
    internal bool ChunkGroupsEnabled { get; set; } = true;

    /// <summary>Delta puts and pulls go in two levels, groups then chunks (docs/protocol.md §5.9.6).</summary>
    internal bool UsesChunkGroups => ChunkGroupsEnabled && ServerSupports(FeatureNames.ChunkGroups);

    /// <summary>Off: small files go one put_file frame each even to a server that takes put_files, as a client before it did (tests).</summary>
    internal bool PutFilesEnabled { get; set; } = true;

    /// <summary>Off: small files of a tree come one get each even from a server that serves get_files, as a client before it did (tests).</summary>
    internal bool GetFilesEnabled { get; set; } = true;

    /// <summary>
    /// Connects, sets up TLS (unless <see cref="FerryClientOptions.UseTls"/> is off), exchanges hellos and logs in when the
    /// server requires it (docs/security.md §3). Throws <see cref="FerryException"/> for every failure: connect_failed
    /// when the server cannot be reached, the TLS handshake fails or nothing answers within
    /// <see cref="FerryClientOptions.ConnectTimeout"/> (the cause, a <see cref="SocketException"/>,
    /// <see cref="IOException"/> or <see cref="TimeoutException"/>, is its inner exception), certificate_mismatch for a
    /// refused certificate, authentication_failed or server_not_authenticated for a failed login, and the server's code
    /// for a refusal (busy, version); <see cref="OperationCanceledException"/> only when
    /// <paramref name="cancellationToken"/> is cancelled. <paramref name="options"/> defaults to <see cref="FerryClientOptions.Default"/>.
    /// </summary>
    public static async Task<FerryClient> ConnectAsync(ServerAddress address, FerryClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= FerryClientOptions.Default;
        var logger = options.LoggerFactory.CreateLogger<FerryClient>();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ConnectAttempts, 1, nameof(options.ConnectAttempts));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var client = await ConnectOnceAsync(address, options, logger, timeout.Token).ConfigureAwait(false);
                    ClientLog.Connected(logger, address.ToString(), client.IsTls, client.User);
                    return client;
                }
                catch (Exception ex) when (attempt < options.ConnectAttempts && IsPassingRefusal(ex) && !timeout.IsCancellationRequested)
                {
                    var wait = RetryDelay(attempt);
                    ClientLog.ConnectRetry(logger, address.ToString(), ex.Message, attempt + 1, (long)wait.TotalMilliseconds);
                    options.OnConnectRetry?.Invoke(ex, wait);
                    await Task.Delay(wait, timeout.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            var message = $"No answer from {address} within {options.ConnectTimeout.TotalSeconds:0.#} s.";
            throw new FerryException(FerryErrorCode.ConnectFailed, message, new TimeoutException(message));
        }
        catch (Exception ex) when (ex is SocketException or IOException or System.Security.Authentication.AuthenticationException)
        {
            // One exception type for library users (code and IsTransient); the cause stays inside.
            throw new FerryException(FerryErrorCode.ConnectFailed, $"Could not connect to {address}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Whether a failed connection attempt may succeed if tried again at once: the server was busy or shed this
    /// connection while it waited to log in (under a burst of logins a slow machine answers late), or the connection
    /// dropped before the login completed. Not: nothing listening, a certificate or a login refused, a wrong version.
    /// </summary>
    private static bool IsPassingRefusal(Exception ex) => ex switch
    {
        FerryRemoteException remote => remote.Code is FerryErrorCode.ServerBusy or FerryErrorCode.LoginTimeout,
        FerryProtocolException closed => closed.Code == FerryErrorCode.TruncatedFrame,
        SocketException => false,
        IOException => true, // reset or closed during the TLS handshake or a reply
        _ => false,
    };

    /// <summary>About 100 ms, doubling per attempt up to a second, with jitter so that a burst of refused clients spreads out.</summary>
    private static TimeSpan RetryDelay(int attempt)
    {
        var baseMs = Math.Min(1000, 100 << Math.Min(attempt - 1, 4));
        return TimeSpan.FromMilliseconds(baseMs / 2 + Random.Shared.Next(baseMs));
    }

    /// <summary>One connection attempt: TCP, TLS, hellos and the login. Cancelled through <paramref name="timeout"/>.</summary>
    private static async Task<FerryClient> ConnectOnceAsync(ServerAddress address, FerryClientOptions options, ILogger logger, CancellationToken timeout)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        FerryClient? client = null;
        Stream? transport = null;
        try
        {
            await socket.ConnectAsync(address.Host, address.Port, timeout).ConfigureAwait(false);
            var network = new NetworkStream(socket, ownsSocket: true);
            transport = network;
            byte[] channelBinding = [];
            string? fingerprint = null;
            string? firstUse = null;
            if (options.UseTls)
            {
                SslStream tls;
                byte[] certificate;
                try
                {
                    (tls, certificate, firstUse) = await ServerTrust.AuthenticateAsync(network, address, options, TlsSettings.CipherSuites, timeout).ConfigureAwait(false);
                }
                catch (AuthenticationException) when (TlsSettings.FallbackCipherSuites is { } fallback)
                {
                    // The first offer holds a single TLS 1.3 suite (TlsSettings.CipherSuites); a server that allows
                    // none of it ends the handshake, and is asked once more, on a new connection, with every AEAD suite.
                    // A refused certificate is a FerryException and never comes here.
                    await network.DisposeAsync().ConfigureAwait(false);
                    socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    await socket.ConnectAsync(address.Host, address.Port, timeout).ConfigureAwait(false);
                    network = new NetworkStream(socket, ownsSocket: true);
                    transport = network;
                    (tls, certificate, firstUse) = await ServerTrust.AuthenticateAsync(network, address, options, fallback, timeout).ConfigureAwait(false);
                }
                transport = tls;
                channelBinding = Handshake.CertificateBinding(certificate);
                fingerprint = KnownServers.Fingerprint(X509CertificateLoader.LoadCertificate(certificate));
            }

            client = new FerryClient(socket, transport, options) { ServerFingerprint = fingerprint, Address = address };
            client._writer.WriteHeader(new HelloMessage
            {
                Version = ProtocolVersion.Current,
                Features = ["echo", "put", "get", "auth"],
                Agent = options.Agent,
            }, FerryJsonContext.Default.HelloMessage);
            await client._writer.FlushAsync(timeout).ConfigureAwait(false);
            client.ServerHello = await client.ReadReplyAsync(CommandNames.Hello, FerryJsonContext.Default.HelloMessage, timeout).ConfigureAwait(false);
            try
            {
                await client.LogInAsync(address, channelBinding, timeout).ConfigureAwait(false);
            }
            catch (FerryException ex) when (firstUse is not null && ex.Code == FerryErrorCode.AuthenticationRequired)
            {
                // Shown, so the user can compare it out of band, but not pinned: nothing has proved this server yet.
                throw new FerryException(ex.Code,
                    $"{ex.Message} The server's certificate has fingerprint {firstUse}; it is pinned once a login has proved the server.");
            }
            // Pinned only now: a certificate is worth remembering once its server proved it knows the key (or, without
            // credentials, once it answered as a Ferry server that was not expected to prove anything).
            if (firstUse is not null)
            {
                ServerTrust.PinFirstUse(address, options, firstUse);
                ClientLog.PinnedOnFirstUse(logger, address.ToString(), firstUse, options.TrustStore.ToString() ?? "");
            }
            return client;
        }
        catch
        {
            await DisposeQuietlyAsync(client, transport, socket).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The client half of the handshake: answer the server's challenge, then check the server's proof before sending
    /// anything else. On plain TCP both directions then authenticate every frame.
    /// </summary>
    private async ValueTask LogInAsync(ServerAddress address, byte[] channelBinding, CancellationToken cancellationToken)
    {
        var method = ServerHello.Auth;
        if (method is null or "none")
        {
            // A client that holds credentials expects a server that can prove it knows them. One that skips the login
            // (plain or TLS, pinned or first use) may be an impostor collecting uploads: refuse before sending anything.
            if (Options.Credentials is not null)
                throw new FerryException(FerryErrorCode.ServerNotAuthenticated,
                    $"{address} did not ask for a login, so it cannot prove that it knows your key: it may be an impostor. Nothing was sent. " +
                    "If this server really runs without authentication (--insecure-no-auth), connect without credentials.");
            if (Options.RequireServerAuthentication)
                throw new FerryException(FerryErrorCode.ServerNotAuthenticated,
                    $"{address} runs without authentication; refusing it because a login was expected.");
            return;
        }
        if (method != Handshake.Method)
            throw new FerryException(FerryErrorCode.VersionUnsupported, $"The server asks for authentication '{method}', which this client does not speak.");
        if (ServerHello.Challenge is not { Length: Handshake.ChallengeBytes } serverChallenge)
            throw new FerryProtocolException(FerryErrorCode.FieldInvalid, "The server's hello carries no valid challenge.", isFatal: true);
        var credentials = Options.Credentials
            ?? throw new FerryException(FerryErrorCode.AuthenticationRequired,
                $"{address} requires a login: run 'ferry login --server {address} --user NAME', or set FERRY_USER and FERRY_KEY.");

        var clientChallenge = Handshake.NewChallenge();
        var transcript = Handshake.Transcript(ProtocolVersion.Current, serverChallenge, clientChallenge, credentials.User, channelBinding);
        _writer.WriteHeader(new AuthMessage
        {
            User = credentials.User,
            Challenge = clientChallenge,
            Proof = Handshake.ClientProof(credentials.Key, transcript),
        }, FerryJsonContext.Default.AuthMessage);
        await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);

        var ok = await ReadReplyAsync(CommandNames.AuthOk, FerryJsonContext.Default.AuthOkMessage, cancellationToken).ConfigureAwait(false);
        if (!Handshake.Verify(Handshake.ServerProof(credentials.Key, transcript), ok.Proof))
            throw new FerryException(FerryErrorCode.ServerNotAuthenticated,
                $"{address} could not prove that it knows your key: it may be an impostor. Nothing was sent.");
        if (!IsTls && !ok.FrameMac)
            throw new FerryException(FerryErrorCode.ServerNotAuthenticated, $"{address} offers plain TCP without frame MACs; refusing.");
        if (ok.FrameMac)
        {
            var (clientToServer, serverToClient) = Handshake.SessionKeys(credentials.Key, transcript);
            _writer.EnableMac(clientToServer);
            _reader.EnableMac(serverToClient);
        }
        User = credentials.User;
    }

    /// <summary>Sends <paramref name="data"/> as an echo body and returns the server's reply (ASCII upper-cased).</summary>
    public Task<byte[]> EchoAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) => RunAsync(async cancellationToken =>
    {
        _writer.WriteHeader(new EchoMessage { BodySize = data.Length }, FerryJsonContext.Default.EchoMessage, data.Length);
        // Send and receive at once: the server streams its reply while the body is still arriving.
        var send = SendBodyAsync(data, cancellationToken);
        try
        {
            var header = await ReadReplyAsync(CommandNames.Echo, cancellationToken).ConfigureAwait(false);
            if (header.BodyLength != data.Length)
                throw new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                    $"The server answered an echo of {data.Length} bytes with {header.BodyLength} bytes.", isFatal: true);
            var reply = new byte[header.BodyLength];
            var filled = 0;
            while (filled < reply.Length)
                filled += await _reader.ReadBodyAsync(reply.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            await send.ConfigureAwait(false);
            return reply;
        }
        catch
        {
            // The server may refuse before reading the whole body; the send then fails too and is not the story.
            await send.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw;
        }
    }, cancellationToken);

    private async Task SendBodyAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        const int Chunk = 64 * 1024;
        for (var offset = 0; offset < data.Length; offset += Chunk)
            await _writer.WriteBodyAsync(data.Slice(offset, Math.Min(Chunk, data.Length - offset)), cancellationToken).ConfigureAwait(false);
        await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Says goodbye and waits for the server's ok.</summary>
    public Task ByeAsync(CancellationToken cancellationToken = default) => RunAsync(async ct =>
    {
        _writer.WriteHeader(new ByeMessage(), FerryJsonContext.Default.ByeMessage);
        await _writer.FlushAsync(ct).ConfigureAwait(false);
        return await ReadReplyAsync(CommandNames.Ok, FerryJsonContext.Default.OkMessage, ct).ConfigureAwait(false);
    }, cancellationToken);

    internal FrameReader Reader => _reader;
    internal FrameWriter Writer => _writer;
    internal Socket Socket => _socket;

    private static async ValueTask DisposeQuietlyAsync(FerryClient? client, Stream? transport, Socket socket)
    {
        if (client is not null)
            await client.DisposeAsync().ConfigureAwait(false);
        else if (transport is not null)
            await transport.DisposeAsync().ConfigureAwait(false);
        else
            socket.Dispose();
    }

    /// <summary>
    /// Drops the connection at once, whatever it is doing (like ssh's ~.): a request in progress fails, and the server,
    /// seeing its client gone, kills a command it runs for it. The client is unusable afterwards.
    /// </summary>
    public void Abort()
    {
        _broken = true;
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Closes the connection at once, without a goodbye; a command still running fails. Safe to call more than once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _reader.Dispose();
        _writer.Dispose();
        await _input.CompleteAsync().ConfigureAwait(false);
        try
        {
            await _output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}
