using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Ferry.Protocol.Datagrams;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Server.Diagnostics;
using Ferry.Server.Exec;
using Ferry.Server.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Udp;

/// <summary>
/// Remote execution over UDP (docs/protocol.md §7): the receive loop and the checks every datagram passes before anything
/// happens. A datagram must open with the user's key (AES-GCM under a per-request key, so it is also secret), carry a
/// fresh timestamp, and carry the address token of this server's boot for the address it came from; only then is it a
/// request (<see cref="UdpRequestTable"/>) whose answers go out through <see cref="UdpResultSender"/>. No exception from
/// one datagram or one command stops the loop.
/// </summary>
public sealed partial class UdpExecServer : BackgroundService
{
    private readonly FerryServerOptions _options;
    private readonly IUserStore _users;
    private readonly Storage.IFileStoreProvider _stores;
    private readonly ExecLimiter _limiter;
    private readonly CommandRunner _runner;
    private readonly AuditLog _audit;
    private readonly FerryMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<UdpExecServer> _logger;

    /// <summary>Room left in a result for its JSON head and the cut marker.</summary>
    private const long ResultOverheadBytes = 1024;

    private readonly UdpRequestTable _requests;
    private readonly UdpAddressTokens _tokens = new();
    private readonly ConcurrentDictionary<Task, bool> _runs = new();
    private Socket? _socket;
    private UdpResultSender? _sender;

    internal UdpExecServer(FerryServerOptions options, IUserStore users, Storage.IFileStoreProvider stores, ExecLimiter limiter, CommandRunner runner,
        AuditLog audit, FerryMetrics metrics, TimeProvider time, ILogger<UdpExecServer> logger)
    {
        _options = options;
        _users = users;
        _stores = stores;
        _limiter = limiter;
        _runner = runner;
        _audit = audit;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _requests = new(options, time);
    }

    /// <summary>The bound address (with the real port when port 0 was asked for), or null when UDP is off.</summary>
    public IPEndPoint? EndPoint { get; private set; }

    /// <summary>UDP requests remembered now (running, kept, delivered or failed), for tests and diagnostics.</summary>
    public int RequestCount => _requests.Count;

    /// <summary>UDP requests of one user remembered now, for tests and diagnostics.</summary>
    internal int RequestCountOf(string user) => _requests.CountOf(user);

    /// <summary>Bytes of UDP results kept for retransmission now, across users.</summary>
    public long KeptResultBytes => _requests.KeptBytes;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.UdpListen is { } listen)
        {
            _socket = new Socket(listen.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            _socket.ReceiveBufferSize = 4 * 1024 * 1024;
            _socket.SendBufferSize = 4 * 1024 * 1024;
            _socket.Bind(listen);
            _sender = new UdpResultSender(_socket, _metrics, _time);
            EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
            Listening(_logger, EndPoint);
        }
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        // Commands see the stopping token and are killed; wait (briefly) for their runners to finish.
        await Task.WhenAll(_runs.Keys).WaitAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_socket is null)
            return;
        var buffer = new byte[64 * 1024];
        EndPoint any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        var sweepEvery = _requests.Keep / 4 < TimeSpan.FromSeconds(5) ? _requests.Keep / 4 : TimeSpan.FromSeconds(5);
        using var sweep = new PeriodicTimer(sweepEvery > TimeSpan.FromMilliseconds(100) ? sweepEvery : TimeSpan.FromMilliseconds(100), _time);
        var sweeping = SweepLoopAsync(sweep, stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                break;
            }
            catch (SocketException)
            {
                continue; // ICMP errors from earlier sends surface here on some platforms
            }
            _metrics.Received(received.ReceivedBytes, udp: true);
            try
            {
                await HandleAsync(buffer.AsMemory(0, received.ReceivedBytes), (IPEndPoint)received.RemoteEndPoint, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Whatever one datagram causes, the next one is served: log it and go on.
                DatagramFailed(_logger, received.RemoteEndPoint, ex.GetType().Name, Logging.PeerText.Escape(ex.Message)!);
            }
        }
        await sweeping.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async ValueTask HandleAsync(ReadOnlyMemory<byte> data, IPEndPoint from, CancellationToken cancellationToken)
    {
        // Unknown users, datagrams that do not open, stale timestamps and kinds a client does not send get no answer at all:
        // nothing to probe, nothing to amplify.
        if (!UdpDatagram.TryPeekUser(data.Span, out var userName) || !_users.TryGet(userName, out var user)
            || !UdpDatagram.TryDecode(data.Span, user.Key, UdpDirection.ClientToServer, out var datagram))
        {
            Dropped(_logger, from, "unauthenticated");
            return;
        }
        if (datagram.Kind is not (UdpKind.Exec or UdpKind.Resend or UdpKind.Done))
        {
            Dropped(_logger, from, "not a client datagram");
            return;
        }
        if (!IsFresh(datagram.TimestampMs))
        {
            Dropped(_logger, from, "stale");
            return;
        }
        if (!_tokens.Verify(user.Name, datagram.RequestId, from, datagram.Token.Span))
        {
            // First contact, a new address, a replay from elsewhere, or a token of an earlier boot of this server: the only
            // answer is one small retry to the sender, never more than three times what it sent.
            var retry = new UdpDatagram(UdpKind.Retry, user.Name, datagram.RequestId, Now, 0, 0, default, _tokens.Issue(user.Name, datagram.RequestId, from));
            if (!await _sender!.SendToUnprovedAsync(user, retry, from, data.Length, cancellationToken).ConfigureAwait(false))
                Dropped(_logger, from, "address not proved and the retry would exceed the amplification limit");
            return;
        }

        UdpRequest? request;
        if (_requests.TryGet(user.Name, datagram.RequestId, out request) && !request.TryAdvance(datagram.TimestampMs))
        {
            Dropped(_logger, from, "replayed");
            return;
        }
        switch (datagram.Kind)
        {
            case UdpKind.Exec:
                if (request is null)
                {
                    switch (_requests.TryAdd(user.Name, datagram.RequestId, datagram.TimestampMs, out request, out var refusal))
                    {
                        case UdpAdmission.Added:
                            request!.Client = from;
                            await RunRequestAsync(user, datagram, request, cancellationToken).ConfigureAwait(false);
                            return;
                        case UdpAdmission.Replayed:
                            Dropped(_logger, from, "not newer than an evicted or refused request of the same user");
                            return;
                        case UdpAdmission.Full:
                            // Not remembered (that is the point), so answered once, like exec_limit_reached; a replay of it
                            // cannot run later either (the table raised the user's replay floor).
                            RequestRefused(_logger, user.Name, _requests.CountOf(user.Name), RequestCount);
                            await _sender!.SendErrorAsync(user, datagram.RequestId, from, FerryErrorCode.UdpRequestLimit, refusal!, cancellationToken).ConfigureAwait(false);
                            return;
                    }
                    if (!request!.TryAdvance(datagram.TimestampMs))
                        return;
                }
                // A retransmission: never run twice; answer with what is known.
                request.Client = from;
                await _sender!.SendStateAsync(user, request, from, cancellationToken).ConfigureAwait(false);
                break;
            case UdpKind.Resend:
                if (request is null)
                {
                    await _sender!.SendErrorAsync(user, datagram.RequestId, from, FerryErrorCode.UnknownTransfer,
                        "This request is unknown or expired (or the server restarted); run it again.", cancellationToken).ConfigureAwait(false);
                    return;
                }
                request.Client = from;
                await _sender!.SendMissingAsync(user, request, datagram, from, cancellationToken).ConfigureAwait(false);
                break;
            case UdpKind.Done:
                if (request is not null)
                    _requests.Delivered(request); // keep the id (at most once), drop the bytes
                break;
        }
    }

    /// <summary>Within the replay window of the server's clock, compared without arithmetic that could overflow for any timestamp.</summary>
    private bool IsFresh(long timestampMs)
    {
        var now = Now;
        var window = (long)Math.Min(_options.UdpReplayWindow.TotalMilliseconds, TimeSpan.FromDays(365).TotalMilliseconds);
        return timestampMs >= now - window && timestampMs <= now + window;
    }

    private async ValueTask RunRequestAsync(UserAccount user, UdpDatagram datagram, UdpRequest state, CancellationToken cancellationToken)
    {
        ExecMessage request;
        try
        {
            request = JsonSerializer.Deserialize(datagram.Payload.Span, FerryJsonContext.Default.ExecMessage)
                ?? throw new JsonException("empty request");
        }
        catch (JsonException)
        {
            await Refuse(FerryErrorCode.FieldInvalid, "The request is not a JSON exec object.").ConfigureAwait(false);
            return;
        }
        CommandRequest command;
        try
        {
            // Refused before anything starts or is acknowledged, by the same checks as over TCP.
            command = _runner.Prepare(request, user, CommandTransport.Udp, MaxOutputBytes);
        }
        catch (FerryException ex)
        {
            await Refuse(ex.Code, ex.Message).ConfigureAwait(false);
            return;
        }
        var slot = _limiter.TryEnter();
        if (slot is null)
        {
            _requests.Forget(state); // not run: the client may retry the same id
            await _sender!.SendErrorAsync(user, datagram.RequestId, state.Client!, FerryErrorCode.ExecLimitReached,
                $"The server already runs {_options.MaxConcurrentExec} commands; try again shortly.", cancellationToken).ConfigureAwait(false);
            return;
        }

        await _sender!.SendAsync(user, new UdpDatagram(UdpKind.Accepted, user.Name, datagram.RequestId, Now, 0, 0, default, default), state.Client!, cancellationToken)
            .ConfigureAwait(false);
        var summary = request.Shell ?? string.Join(' ', request.Argv ?? []);
        var run = Task.Run(() => RunAndKeepAsync(user, command, state, slot, summary, cancellationToken), CancellationToken.None);
        _runs.TryAdd(run, true);
        _ = run.ContinueWith(t => _runs.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        ValueTask Refuse(FerryErrorCode code, string message)
        {
            _requests.Fail(state, code, message);
            return _sender!.SendErrorAsync(user, datagram.RequestId, state.Client!, code, message, cancellationToken);
        }
    }

    /// <summary>
    /// Runs the command, keeps its result within the budgets and sends it. Whatever happens, the request leaves the running
    /// state (so it is swept), the slot is returned, and nothing escapes this task.
    /// </summary>
    private async Task RunAndKeepAsync(UserAccount user, CommandRequest command, UdpRequest state, IDisposable slot, string summary, CancellationToken cancellationToken)
    {
        var outcome = "ok";
        try
        {
            byte[]? result = null;
            try
            {
                result = (await RunAsync(user, command, cancellationToken).ConfigureAwait(false)).Encode();
            }
            catch (FerryException ex)
            {
                // Nothing ran (exec_failed, not_found, path_escapes_root): the same error as the TCP error frame.
                outcome = ex.Code.ToWire();
                _requests.Fail(state, ex.Code, ex.Message);
            }
            finally
            {
                slot.Dispose();
            }
            if (result is not null && !_requests.TryKeep(state, UdpResultSender.Split(result), result.Length))
            {
                outcome = FerryErrorCode.ResultBudgetExceeded.ToWire();
                ResultRefused(_logger, user.Name, result.Length);
            }
        }
        catch (Exception ex)
        {
            outcome = cancellationToken.IsCancellationRequested ? "server_shutting_down" : "error";
            if (!cancellationToken.IsCancellationRequested)
                RunFailed(_logger, user.Name, ex);
            _requests.Fail(state, cancellationToken.IsCancellationRequested ? FerryErrorCode.ServerShuttingDown : FerryErrorCode.ExecFailed,
                cancellationToken.IsCancellationRequested ? "The server stopped while the command ran." : "The command could not be run; the server's log says why.");
        }
        try
        {
            _audit.Command("udp", state.Client!.Address, user.Name, "udp exec " + summary, outcome, _time.GetElapsedTime(state.Created).TotalMilliseconds);
            await _sender!.SendStateAsync(user, state, state.Client!, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The client asks again with resend when the result does not arrive; nothing here may go unobserved.
            SendFailed(_logger, state.Client!, ex.GetType().Name, ex.Message);
        }
    }

    /// <summary>Runs the command by the rules every transport shares, collecting its output for one result.</summary>
    private async Task<UdpExecResult> RunAsync(UserAccount user, CommandRequest command, CancellationToken cancellationToken)
    {
        var output = new UdpOutputCollector();
        var outcome = await _runner.RunAsync(command, _stores.ForUser(user), output, cancellationToken).ConfigureAwait(false);
        return new UdpExecResult(outcome.Code, outcome.TimedOut, outcome.Truncated, output.Stdout, output.Stderr);
    }

    /// <summary>
    /// The output cap of a UDP command: <see cref="FerryServerOptions.MaxUdpOutputBytes"/>, and low enough that the whole
    /// result (output, a small JSON head and the cut marker) fits the per-user and global budgets.
    /// </summary>
    private long MaxOutputBytes =>
        Math.Max(0, Math.Min(_options.MaxUdpOutputBytes, Math.Min(_options.MaxUdpResultBytesPerUser, _options.MaxUdpResultBytes) - ResultOverheadBytes));

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private async Task SweepLoopAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                _requests.Sweep();
            }
            catch (Exception ex)
            {
                SweepFailed(_logger, ex);
            }
        }
    }

    public override void Dispose()
    {
        _socket?.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Logging.LogEvents.UdpListening, LogLevel.Information, "UDP exec listening on {EndPoint}")]
    private static partial void Listening(ILogger logger, EndPoint endPoint);

    [LoggerMessage(Logging.LogEvents.UdpDatagramDropped, LogLevel.Debug, "Dropped a datagram from {From}: {Reason}")]
    private static partial void Dropped(ILogger logger, EndPoint from, string reason);

    // 5002 (the old "Datagram handling failed" at debug level) is retired.

    [LoggerMessage(Logging.LogEvents.UdpDatagramFailed, LogLevel.Warning, "A datagram from {From} failed ({Type}: {Message}); serving the next one")]
    private static partial void DatagramFailed(ILogger logger, EndPoint from, string type, string message);

    [LoggerMessage(Logging.LogEvents.UdpRunFailed, LogLevel.Error, "A UDP command of user {User} failed before it could finish")]
    private static partial void RunFailed(ILogger logger, string user, Exception exception);

    [LoggerMessage(Logging.LogEvents.UdpResultRefused, LogLevel.Warning, "The result of a UDP command of user {User} ({Bytes} bytes) does not fit the UDP result budget; the client gets result_budget_exceeded")]
    private static partial void ResultRefused(ILogger logger, string user, long bytes);

    [LoggerMessage(Logging.LogEvents.UdpSendFailed, LogLevel.Debug, "Sending a UDP result to {To} failed ({Type}: {Message}); the client will ask again")]
    private static partial void SendFailed(ILogger logger, EndPoint to, string type, string message);

    [LoggerMessage(Logging.LogEvents.UdpSweepFailed, LogLevel.Error, "Sweeping old UDP requests failed")]
    private static partial void SweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(Logging.LogEvents.UdpRequestRefused, LogLevel.Information, "A UDP request of user {User} was refused: the user has {UserCount} and all users {TotalCount} requests remembered (udp_request_limit)")]
    private static partial void RequestRefused(ILogger logger, string user, int userCount, int totalCount);
}
