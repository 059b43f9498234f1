using System.Buffers;
using System.Collections.Concurrent;
using System.ComponentModel;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Ferry.Protocol.Datagrams;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Server.Diagnostics;
using Ferry.Server.Exec;
using Ferry.Server.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Udp;

/// <summary>
/// Remote execution over UDP (docs/protocol.md §7): every datagram authenticated with the user's key, stale or
/// forged ones dropped without an answer, each request id run at most once (its result is kept for retransmission),
/// results cut into numbered chunks that the client asks for again when some are lost.
/// </summary>
public sealed partial class UdpExecServer(
    FerryServerOptions options, UserDirectory users, ExecLimiter limiter, CommandRunner runner, AuditLog audit, FerryMetrics metrics, TimeProvider time, ILogger<UdpExecServer> logger)
    : BackgroundService
{
    private readonly ConcurrentDictionary<(string User, ulong Id), RequestState> _requests = new();
    private Socket? _socket;

    /// <summary>The bound address (with the real port when port 0 was asked for), or null when UDP is off.</summary>
    public IPEndPoint? EndPoint { get; private set; }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.UdpListen is { } listen)
        {
            _socket = new Socket(listen.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            _socket.ReceiveBufferSize = 4 * 1024 * 1024;
            _socket.SendBufferSize = 4 * 1024 * 1024;
            _socket.Bind(listen);
            EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
            Listening(logger, EndPoint);
        }
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_socket is null)
            return;
        var buffer = new byte[64 * 1024];
        EndPoint any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        using var sweep = new PeriodicTimer(TimeSpan.FromSeconds(5), time);
        var sweeping = SweepLoopAsync(sweep, stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (SocketException)
            {
                continue; // ICMP errors from earlier sends surface here on some platforms
            }
            metrics.Received(received.ReceivedBytes, udp: true);
            try
            {
                await HandleAsync(buffer.AsMemory(0, received.ReceivedBytes), (IPEndPoint)received.RemoteEndPoint, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ArgumentException or JsonException)
            {
                DatagramFailed(logger, ex.Message);
            }
        }
        await sweeping.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async ValueTask HandleAsync(ReadOnlyMemory<byte> data, IPEndPoint from, CancellationToken cancellationToken)
    {
        // Unknown users, bad MACs and stale timestamps get no answer at all: nothing to probe, nothing to amplify.
        if (!UdpDatagram.TryPeekUser(data.Span, out var userName) || !users.TryGet(userName, out var user)
            || !UdpDatagram.TryDecode(data.Span, user.Key, out var datagram) || datagram is null)
        {
            Dropped(logger, from, "unauthenticated");
            return;
        }
        var age = Math.Abs(time.GetUtcNow().ToUnixTimeMilliseconds() - datagram.TimestampMs);
        if (age > options.UdpReplayWindow.TotalMilliseconds)
        {
            Dropped(logger, from, "stale");
            return;
        }

        var key = (user.Name, datagram.RequestId);
        switch (datagram.Kind)
        {
            case UdpKind.Exec:
                var created = false;
                var state = _requests.GetOrAdd(key, _ =>
                {
                    created = true;
                    return new RequestState(time.GetTimestamp());
                });
                state.Client = from;
                if (!created)
                {
                    // A retransmission (or a replay): never run twice; answer with what is known.
                    await ResendAllAsync(user, datagram.RequestId, state, cancellationToken).ConfigureAwait(false);
                    return;
                }
                await StartAsync(user, datagram, state, cancellationToken).ConfigureAwait(false);
                break;
            case UdpKind.Resend:
                if (!_requests.TryGetValue(key, out var known))
                {
                    await SendErrorAsync(user, datagram.RequestId, from, FerryErrorCode.UnknownTransfer, "This request is unknown or expired; run it again.",
                        cancellationToken).ConfigureAwait(false);
                    return;
                }
                known.Client = from;
                if (known.Chunks is null)
                {
                    await SendAsync(user, new UdpDatagram(UdpKind.Accepted, user.Name, datagram.RequestId, Now, 0, 0, default), from, cancellationToken)
                        .ConfigureAwait(false);
                    return;
                }
                await SendMissingAsync(user, datagram, known, from, cancellationToken).ConfigureAwait(false);
                break;
            case UdpKind.Done:
                if (_requests.TryGetValue(key, out var finished))
                    finished.Chunks = finished.Chunks is null ? null : []; // keep the id (at most once), drop the bytes
                break;
        }
    }

    private async ValueTask StartAsync(UserAccount user, UdpDatagram datagram, RequestState state, CancellationToken cancellationToken)
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
        try
        {
            _ = CommandRunner.TimeLimit(request.TimeoutSeconds, options.ExecTimeout); // refused before anything starts
        }
        catch (FerryException ex)
        {
            await Refuse(ex.Code, ex.Message).ConfigureAwait(false);
            return;
        }
        if (!options.AllowExec)
        {
            await Refuse(FerryErrorCode.ExecDisabled, "This server does not run commands (--allow-exec).").ConfigureAwait(false);
            return;
        }
        if (!user.Allows(Permissions.Exec))
        {
            await Refuse(FerryErrorCode.PermissionDenied, $"User '{user.Name}' lacks the exec permission.").ConfigureAwait(false);
            return;
        }
        var slot = limiter.TryEnter();
        if (slot is null)
        {
            _requests.TryRemove((user.Name, datagram.RequestId), out _); // not run: the client may retry the same id
            await Refuse(FerryErrorCode.ExecLimitReached, $"The server already runs {options.MaxConcurrentExec} commands; try again shortly.").ConfigureAwait(false);
            return;
        }

        await SendAsync(user, new UdpDatagram(UdpKind.Accepted, user.Name, datagram.RequestId, Now, 0, 0, default), state.Client!, cancellationToken)
            .ConfigureAwait(false);
        var summary = request.Shell ?? string.Join(' ', request.Argv ?? []);
        _ = Task.Run(async () =>
        {
            byte[] result;
            try
            {
                result = (await RunAsync(user, request, cancellationToken).ConfigureAwait(false)).Encode();
            }
            catch (FerryException ex)
            {
                result = new UdpExecResult(127, false, false, [], Encoding.UTF8.GetBytes($"ferry: {ex.Message}\n")).Encode();
            }
            finally
            {
                slot.Dispose();
            }
            audit.Command("udp", state.Client!.Address, user.Name, "udp exec " + summary, "ok", time.GetElapsedTime(state.Created).TotalMilliseconds);
            state.Chunks = Split(result);
            try
            {
                await ResendAllAsync(user, datagram.RequestId, state, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }, CancellationToken.None);

        ValueTask Refuse(FerryErrorCode code, string message)
        {
            state.Error = (code, message);
            return SendErrorAsync(user, datagram.RequestId, state.Client!, code, message, cancellationToken);
        }
    }

    private async Task<UdpExecResult> RunAsync(UserAccount user, ExecMessage request, CancellationToken cancellationToken)
    {
        var argv = CommandEnvironment.ArgvOf(request);
        var store = users.StoreFor(user);
        var home = store.LocalDirectory("")!;
        var cwd = store.LocalDirectory(RemotePath.Normalize(request.WorkingDirectory ?? ""))!;
        var group = runner.Start(user, home, cwd, argv);
        metrics.ExecStarted(udp: true);
        var started = time.GetTimestamp();
        var completed = false;
        using (group)
        try
        {
            group.StandardInput.Dispose();
            var budget = new OutputBudget(options.MaxUdpOutputBytes);
            var stdout = CaptureAsync(group.StandardOutput, budget);
            var stderr = CaptureAsync(group.StandardError, budget);
            var limit = CommandRunner.TimeLimit(request.TimeoutSeconds, options.ExecTimeout);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(limit);
            var timedOut = false;
            try
            {
                await group.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
            }
            group.KillTree();
            await Task.WhenAny(Task.WhenAll(stdout, stderr), Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            var err = stderr.IsCompletedSuccessfully ? stderr.Result : [];
            if (budget.Truncated)
                err = [.. err, .. Encoding.UTF8.GetBytes($"\n[ferry: output cut after {options.MaxUdpOutputBytes} bytes]\n")];
            completed = true;
            return new UdpExecResult(timedOut ? 124 : group.HasExited ? group.ExitCode : 137, timedOut, budget.Truncated,
                stdout.IsCompletedSuccessfully ? stdout.Result : [], err);
        }
        finally
        {
            metrics.ExecEnded(udp: true, time.GetElapsedTime(started), completed);
        }
    }

    private static async Task<byte[]> CaptureAsync(Stream stream, OutputBudget budget)
    {
        var kept = new MemoryStream();
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                var take = budget.Take(n);
                kept.Write(buffer, 0, take);
            }
        }
        catch (IOException) { }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return kept.ToArray();
    }

    private static byte[][] Split(byte[] result)
    {
        var count = Math.Max(1, (result.Length + UdpDatagram.ChunkPayloadBytes - 1) / UdpDatagram.ChunkPayloadBytes);
        var chunks = new byte[count][];
        for (var i = 0; i < count; i++)
            chunks[i] = result.AsSpan(i * UdpDatagram.ChunkPayloadBytes, Math.Min(UdpDatagram.ChunkPayloadBytes, result.Length - i * UdpDatagram.ChunkPayloadBytes)).ToArray();
        return chunks;
    }

    private async ValueTask ResendAllAsync(UserAccount user, ulong id, RequestState state, CancellationToken cancellationToken)
    {
        if (state.Error is { } error)
        {
            await SendErrorAsync(user, id, state.Client!, error.Code, error.Message, cancellationToken).ConfigureAwait(false);
            return;
        }
        var chunks = state.Chunks;
        if (chunks is null or { Length: 0 })
        {
            await SendAsync(user, new UdpDatagram(UdpKind.Accepted, user.Name, id, Now, 0, 0, default), state.Client!, cancellationToken).ConfigureAwait(false);
            return;
        }
        for (var i = 0; i < chunks.Length; i++)
            await SendAsync(user, new UdpDatagram(UdpKind.Chunk, user.Name, id, Now, (uint)i, (uint)chunks.Length, chunks[i]), state.Client!, cancellationToken)
                .ConfigureAwait(false);
    }

    private async ValueTask SendMissingAsync(UserAccount user, UdpDatagram resend, RequestState state, IPEndPoint to, CancellationToken cancellationToken)
    {
        var chunks = state.Chunks!;
        var bitmap = resend.Payload;
        for (var bit = 0; bit < bitmap.Length * 8; bit++)
        {
            if ((bitmap.Span[bit / 8] & (1 << (bit % 8))) == 0)
                continue;
            var index = resend.Index + (uint)bit;
            if (index >= chunks.Length)
                break;
            await SendAsync(user, new UdpDatagram(UdpKind.Chunk, user.Name, resend.RequestId, Now, index, (uint)chunks.Length, chunks[index]), to, cancellationToken)
                .ConfigureAwait(false);
        }
    }

    private ValueTask SendErrorAsync(UserAccount user, ulong id, IPEndPoint to, FerryErrorCode code, string message, CancellationToken cancellationToken)
    {
        metrics.Error(code);
        return SendAsync(user, new UdpDatagram(UdpKind.Error, user.Name, id, Now, 0, 0,
            JsonSerializer.SerializeToUtf8Bytes(new ErrorMessage { Code = code.ToWire(), Message = message }, FerryJsonContext.Default.ErrorMessage)), to, cancellationToken);
    }

    private async ValueTask SendAsync(UserAccount user, UdpDatagram datagram, IPEndPoint to, CancellationToken cancellationToken) =>
        metrics.Sent(await _socket!.SendToAsync(datagram.Encode(user.Key), SocketFlags.None, to, cancellationToken).ConfigureAwait(false), udp: true);

    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    private async Task SweepLoopAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            // Ids are remembered at least as long as a replay could still pass the timestamp check.
            var keep = options.UdpResultRetention > 2 * options.UdpReplayWindow ? options.UdpResultRetention : 2 * options.UdpReplayWindow;
            foreach (var (key, state) in _requests)
            {
                if (time.GetElapsedTime(state.Created) > keep && (state.Chunks is not null || state.Error is not null))
                    _requests.TryRemove(key, out _);
            }
        }
    }

    public override void Dispose()
    {
        _socket?.Dispose();
        base.Dispose();
    }

    private sealed class RequestState(long created)
    {
        public long Created { get; } = created;
        public volatile IPEndPoint? Client;
        public volatile byte[][]? Chunks;
        public (FerryErrorCode Code, string Message)? Error;
    }

    private sealed class OutputBudget(long limit)
    {
        private long _left = limit;

        public bool Truncated { get; private set; }

        public int Take(int wanted)
        {
            var left = Interlocked.Add(ref _left, -wanted);
            if (left >= 0)
                return wanted;
            Truncated = true;
            return (int)Math.Max(0, wanted + left);
        }
    }

    [LoggerMessage(5000, LogLevel.Information, "UDP exec listening on {EndPoint}")]
    private static partial void Listening(ILogger logger, EndPoint endPoint);

    [LoggerMessage(5001, LogLevel.Debug, "Dropped a datagram from {From}: {Reason}")]
    private static partial void Dropped(ILogger logger, EndPoint from, string reason);

    [LoggerMessage(5002, LogLevel.Debug, "Datagram handling failed: {Message}")]
    private static partial void DatagramFailed(ILogger logger, string message);
}
