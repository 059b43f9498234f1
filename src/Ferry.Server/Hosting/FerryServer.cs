using System.Net;
using System.Net.Sockets;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Server.Connections;
using Ferry.Server.Handlers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Ferry.Protocol.Auth;
using Ferry.Server.Auth;
using Ferry.Server.Diagnostics;
using Ferry.Server.Logging;
using Ferry.Server.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Ferry.Protocol.Transport;

namespace Ferry.Server.Hosting;

/// <summary>
/// The host: binds every listen address, accepts connections (one task each), enforces the connection limit and
/// shuts down in two phases — stop accepting and let work in flight finish within <see cref="FerryServerOptions.ShutdownGrace"/>,
/// then abort whatever is left.
/// </summary>
public sealed class FerryServer : IHostedService, IAsyncDisposable
{
    private const int TransportBufferSize = 256 * 1024;
    private readonly FerryServerOptions _options;
    private readonly ILogger<FerryServer> _logger;
    private readonly ConnectionDispatcher _dispatcher;
    private readonly ConnectionManager _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private int _connectionCount;

    private readonly X509Certificate2? _certificate;
    private readonly SslStreamCertificateContext? _certificateContext;
    private readonly byte[] _channelBinding;
    private readonly ConnectionCounter<IPAddress> _perAddress = new();

    public FerryServer(IOptions<FerryServerOptions> options, IEnumerable<ICommandHandler> handlers, IFileStore store, AuditLog audit, UserDirectory users,
        FerryMetrics metrics, ILogger<FerryServer> logger)
    {
        _options = options.Value;
        _options.Validate();
        _logger = logger;
        _metrics = metrics;
        _dispatcher = new ConnectionDispatcher(handlers, store, audit, metrics, _options, logger);
        _users = users;
        if (_options.UseTls)
        {
            _certificate = _options.TlsCertificatePath is { } certificatePath
                ? ServerCertificate.Load(certificatePath, _options.TlsCertificatePassword)
                : ServerCertificate.LoadOrCreate(_options.StateDirectory);
            // Built once: per-handshake certificate setup was a large share of TLS connection cost.
            _certificateContext = SslStreamCertificateContext.Create(_certificate, additionalCertificates: null, offline: true);
            _channelBinding = Handshake.CertificateBinding(_certificate.RawData);
        }
        else
        {
            _channelBinding = [];
        }
    }

    private readonly UserDirectory _users;
    private readonly FerryMetrics _metrics;

    /// <summary>The TLS certificate's fingerprint (SHA256:base64), or null on plain TCP.</summary>
    public string? CertificateFingerprint => _certificate is null ? null : ServerCertificate.Fingerprint(_certificate);

    /// <summary>The addresses actually bound (with the real port when port 0 was asked for). Filled by <see cref="StartAsync"/>.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints { get; private set; } = [];

    /// <summary>Connections now open.</summary>
    public int ConnectionCount => _connections.Count;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_options.Root);
        var bound = new List<IPEndPoint>();
        try
        {
            foreach (var endPoint in _options.Listen)
            {
                var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
                    socket.DualMode = false; // --listen [::1]:P and --listen 127.0.0.1:P may share a port
                AllowRebindAfterRestart(socket);
                socket.Bind(endPoint);
                socket.Listen(4096); // bursts of connections wait in the kernel while TLS handshakes run
                _listeners.Add(socket);
                bound.Add((IPEndPoint)socket.LocalEndPoint!);
            }
        }
        catch
        {
            foreach (var listener in _listeners)
                listener.Dispose();
            _listeners.Clear();
            throw;
        }

        EndPoints = bound;
        foreach (var endPoint in bound)
            ServerLog.Listening(_logger, endPoint);
        ServerLog.ServingRoot(_logger, Path.GetFullPath(_options.Root));
        if (_options.InsecureNoAuth)
            ServerLog.InsecureNoAuth(_logger, string.Join(", ", bound), Path.GetFullPath(_options.Root));
        else if (!_options.UseTls)
            ServerLog.PlainTcp(_logger);
        if (_certificate is not null)
            ServerLog.Certificate(_logger, ServerCertificate.Fingerprint(_certificate));
        if (_options.RequireAuthentication)
        {
            ServerLog.Users(_logger, _users.Count, Path.GetFullPath(_options.EffectiveUsersFile));
            if (_users.Count == 0)
                ServerLog.NoUsers(_logger);
        }

        foreach (var listener in _listeners)
            _acceptLoops.Add(AcceptLoopAsync(listener));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping.IsCancellationRequested)
            return;
        ServerLog.Stopping(_logger, _connections.Count, _options.ShutdownGrace);
        _stopping.Cancel();
        foreach (var listener in _listeners)
            listener.Dispose();
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);

        // Phase 1: idle connections leave at once (the dispatcher watches _stopping between frames);
        // commands in flight get the grace period, or less if the host is in a hurry.
        var inFlight = Task.WhenAll(_connections.Work);
        using var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        grace.CancelAfter(_options.ShutdownGrace);
        try
        {
            await inFlight.WaitAsync(grace.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Phase 2.
            ServerLog.AbortingConnections(_logger, _connections.AbortAll("server stopped"));
            await inFlight.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        ServerLog.Stopped(_logger);
    }

    /// <summary>
    /// Lets a restarted server bind while old connections sit in TIME_WAIT. On Unix, .NET's ReuseAddress option also sets
    /// SO_REUSEPORT, which would let a second server share the port silently; set SO_REUSEADDR alone instead.
    /// </summary>
    private static void AllowRebindAfterRestart(Socket socket)
    {
        if (OperatingSystem.IsLinux())
            socket.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        else if (!OperatingSystem.IsWindows())
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException || _stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException ex)
            {
                // Transient (EMFILE, ECONNABORTED): back off briefly rather than spin.
                ServerLog.AcceptFailed(_logger, listener.LocalEndPoint!, ex);
                await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            try
            {
                socket.NoDelay = true;
            }
            catch (SocketException)
            {
                // Reset before we got to it (some platforms then refuse the option): serving it will find out.
            }
            _ = ServeSocketSafelyAsync(socket);
        }
    }

    /// <summary>Serves one accepted socket; nothing it throws may reach the accept loop or go unobserved.</summary>
    private async Task ServeSocketSafelyAsync(Socket socket)
    {
        try
        {
            await ServeSocketAsync(socket).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            ServerLog.TransportError(_logger, ex.Message);
            socket.Dispose();
        }
    }

    /// <summary>Sets up the transport (TLS when configured) and serves the connection.</summary>
    private async Task ServeSocketAsync(Socket socket)
    {
        await Task.Yield(); // leave the accept loop at once
        var id = FerryConnection.NextId();
        using var scope = _logger.BeginScope(new ConnectionScope(id));
        Stream network = new MeteredStream(new NetworkStream(socket, ownsSocket: true), _metrics);
        Stream transport = network;
        if (_certificate is not null)
        {
            var tls = new SslStream(network, leaveInnerStreamOpen: false);
            try
            {
                using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                handshake.CancelAfter(_options.HeaderTimeout);
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificateContext = _certificateContext,
                    ClientCertificateRequired = false,
                    ApplicationProtocols = [TlsSettings.ApplicationProtocol],
                    CipherSuitesPolicy = TlsSettings.CipherSuites,
                }, handshake.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException or SocketException)
            {
                ServerLog.TlsFailed(_logger, socket.RemoteEndPoint, ex.Message);
                await tls.DisposeAsync().ConfigureAwait(false);
                return;
            }
            transport = tls;
        }

        var connection = new FerryConnection(id, socket, transport, TransportBufferSize, _channelBinding);
        _connections.Add(connection);
        var work = ServeAsync(connection);
        _connections.SetWork(connection, work);
        await work.ConfigureAwait(false);
    }

    private async Task ServeAsync(FerryConnection connection)
    {
        var count = Interlocked.Increment(ref _connectionCount);
        var addressSlot = _perAddress.TryAcquire(connection.RemoteAddress, _options.MaxConnectionsPerAddress);
        _metrics.ConnectionOpened();
        try
        {
            ServerLog.ConnectionOpened(_logger, connection.RemoteEndPoint);
            if (count > _options.MaxConnections || addressSlot is null)
            {
                ServerLog.ConnectionRefusedBusy(_logger, connection.RemoteEndPoint, count - 1, _options.MaxConnections);
                using var writer = new FrameWriter(connection.Output, _options.Frames);
                await _dispatcher.SendErrorAsync(writer, addressSlot is null ? FerryErrorCode.TooManyConnections : FerryErrorCode.ServerBusy,
                    addressSlot is null
                        ? $"This address already has {_options.MaxConnectionsPerAddress} connections open; close some and try again."
                        : $"The server is at its limit of {_options.MaxConnections} connections; try again later.", fatal: true,
                    connection.ConnectionClosed).ConfigureAwait(false);
                return;
            }
            await _dispatcher.RunAsync(connection, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            ServerLog.TransportError(_logger, ex.Message);
        }
        finally
        {
            addressSlot?.Dispose();
            Interlocked.Decrement(ref _connectionCount);
            _metrics.ConnectionClosed();
            _connections.Remove(connection);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>Log scope that puts the connection id on every line.</summary>
    private sealed class ConnectionScope(string connectionId) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public KeyValuePair<string, object?> this[int index] => index == 0 ? new("ConnectionId", connectionId) : throw new ArgumentOutOfRangeException(nameof(index));
        public int Count => 1;
        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() { yield return this[0]; }
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
        public override string ToString() => connectionId;
    }
}
