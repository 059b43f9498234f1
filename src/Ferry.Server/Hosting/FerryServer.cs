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
/// shuts down in two phases — stop accepting, hang up commands on terminals, and let work in flight finish within <see cref="FerryServerOptions.ShutdownGrace"/>,
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

    private readonly X509Certificate2? _certificate;
    private readonly TlsHandshake? _tls;
    private readonly byte[] _channelBinding;
    private readonly ConnectionLimiter _limiter;

    internal FerryServer(IOptions<FerryServerOptions> options, IEnumerable<ICommandHandler> handlers, IUserStore users, IFileStoreProvider stores, AuditLog audit,
        FerryMetrics metrics, ILogger<FerryServer> logger, TimeProvider? time = null, Exec.CommandRunner? runner = null)
    {
        _runner = runner;
        _options = options.Value;
        _options.Validate();
        _logger = logger;
        _metrics = metrics;
        _dispatcher = new ConnectionDispatcher(handlers, users, stores, audit, metrics, _options, logger);
        _users = users;
        _limiter = new ConnectionLimiter(_options, time ?? TimeProvider.System);
        if (_options.UseTls)
        {
            _certificate = _options.TlsCertificatePath is { } certificatePath
                ? ServerCertificate.Load(certificatePath, _options.TlsCertificatePassword)
                : ServerCertificate.LoadOrCreate(_options.StateDirectory);
            _tls = new TlsHandshake(_certificate, _options.MaxConcurrentTlsHandshakes, _options.TlsHandshakeTimeout);
            _channelBinding = Handshake.CertificateBinding(_certificate.RawData);
        }
        else
        {
            _channelBinding = [];
        }
    }

    private readonly IUserStore _users;
    private readonly FerryMetrics _metrics;
    private readonly Exec.CommandRunner? _runner;

    /// <summary>The TLS certificate's fingerprint (SHA256:base64), or null on plain TCP.</summary>
    public string? CertificateFingerprint => _certificate is null ? null : ServerCertificate.Fingerprint(_certificate);

    /// <summary>The addresses actually bound (with the real port when port 0 was asked for). Filled by <see cref="StartAsync"/>.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints { get; private set; } = [];

    /// <summary>Connections now open.</summary>
    public int ConnectionCount => _connections.Count;

    /// <summary>Connections admitted that have not logged in yet (TLS handshakes in progress included).</summary>
    public int UnauthenticatedConnectionCount => _limiter.PendingCount;

    /// <summary>Connections not logged in that have sat idle long enough to be shed for a newcomer.</summary>
    public int SheddableConnectionCount => _limiter.SheddableCount;

    /// <summary>Connections shed to make room for new ones, or closed at the end of their login grace time, since start.</summary>
    public long ConnectionsEvicted => _limiter.Evictions;

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
            ServerLog.Users(_logger, _users.Count, _users.Description);
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
        // Commands on terminals are hung up rather than waited for: they are interactive and would not end on their own.
        _runner?.HangUpTerminals();
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

    /// <summary>
    /// Admits the connection (<see cref="ConnectionLimiter"/>: it may shed an idle unauthenticated one, or refuse this
    /// one), sets up the transport (TLS when configured) and serves the connection.
    /// </summary>
    private async Task ServeSocketAsync(Socket socket)
    {
        await Task.Yield(); // leave the accept loop at once
        var id = FerryConnection.NextId();
        using var scope = _logger.BeginScope(new ConnectionScope(id));
        var remote = socket.RemoteEndPoint;
        var ticket = _limiter.TryAdmit((remote as IPEndPoint)?.Address ?? IPAddress.None, out var refusal, out var refusalMessage);
        try
        {
            // Not "busy" while the handshake runs: a peer that never sends its ClientHello is as idle as one that says
            // nothing after it. Evicting it cancels the handshake (and the wait for a handshake slot).
            if (ticket is not null)
                ticket.HardStop = _ => socket.Dispose();
            Stream network = new MeteredStream(new NetworkStream(socket, ownsSocket: true), _metrics);
            Stream transport = network;
            if (_tls is not null)
            {
                // A refused connection gets its error frame only if a handshake slot is free right now: refusing must
                // stay cheaper than serving.
                using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, ticket?.Evicted ?? CancellationToken.None);
                var (tls, failure) = await _tls.AuthenticateAsync(network, waitForSlot: ticket is not null, handshake.Token).ConfigureAwait(false);
                if (tls is null)
                {
                    ServerLog.TlsFailed(_logger, remote, PeerText.Escape(ticket?.Evicted.IsCancellationRequested == true ? ticket.EvictionMessage : failure)!);
                    await network.DisposeAsync().ConfigureAwait(false);
                    return;
                }
                transport = tls;
            }
            ticket?.Touch();

            var connection = new FerryConnection(id, socket, transport, TransportBufferSize, _channelBinding) { Ticket = ticket };
            if (ticket is not null)
                ticket.HardStop = connection.Abort;
            _connections.Add(connection);
            var work = ServeAsync(connection, refusal, refusalMessage);
            _connections.SetWork(connection, work);
            await work.ConfigureAwait(false);
        }
        finally
        {
            ticket?.Dispose();
        }
    }

    private async Task ServeAsync(FerryConnection connection, FerryErrorCode refusal, string refusalMessage)
    {
        _metrics.ConnectionOpened();
        try
        {
            ServerLog.ConnectionOpened(_logger, connection.RemoteEndPoint);
            if (connection.Ticket is null)
            {
                ServerLog.ConnectionRefusedBusy(_logger, connection.RemoteEndPoint, _limiter.Count, _options.MaxConnections);
                using var writer = new FrameWriter(connection.Output, _options.Frames);
                await _dispatcher.SendErrorAsync(writer, refusal, refusalMessage, fatal: true, connection.ConnectionClosed).ConfigureAwait(false);
                return;
            }
            await _dispatcher.RunAsync(connection, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            ServerLog.TransportError(_logger, PeerText.Escape(ex.Message)!);
        }
        finally
        {
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
