using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Ferry.Testing;

/// <summary>
/// A TCP relay on 127.0.0.1 that forwards every byte between clients and one server, except that each direction can
/// stop after a byte budget. A transfer through it then stands still at a known offset, with both processes alive and
/// the connection open, so a test can kill one of them exactly there instead of racing a transfer that moves at
/// loopback speed. With a <see cref="SlowLink"/> it also delivers in small slices at a capped rate, as real networks do.
/// </summary>
public sealed class LoopbackRelay : IAsyncDisposable
{
    private const int BufferSize = 64 * 1024;

    private readonly Socket _listener;
    private readonly IPEndPoint _target;
    private readonly long _upstreamBudget;
    private readonly long _downstreamBudget;
    private readonly SlowLink? _link;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Socket> _sockets = [];
    private readonly Task _acceptLoop;
    private long _upstream;
    private long _downstream;
    private int _disposed;

    private LoopbackRelay(IPEndPoint target, long upstreamBudget, long downstreamBudget, SlowLink? link)
    {
        _link = link;
        _target = target;
        _upstreamBudget = upstreamBudget;
        _downstreamBudget = downstreamBudget;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>Where clients connect.</summary>
    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    /// <summary>Completes when a direction has used up its budget and stopped forwarding.</summary>
    public Task Held => _held.Task;

    /// <summary>Bytes forwarded from clients to the server so far.</summary>
    public long Upstream => Interlocked.Read(ref _upstream);

    /// <summary>Bytes forwarded from the server to clients so far.</summary>
    public long Downstream => Interlocked.Read(ref _downstream);

    /// <summary>
    /// Starts a relay to <paramref name="target"/> that forwards at most <paramref name="upstreamBudget"/> bytes from
    /// clients to the server and <paramref name="downstreamBudget"/> bytes back, summed over all connections; with a
    /// <paramref name="link"/>, in its slices and at its rate.
    /// </summary>
    public static LoopbackRelay Start(IPEndPoint target, long upstreamBudget = long.MaxValue, long downstreamBudget = long.MaxValue,
        SlowLink? link = null)
    {
        if (!IPAddress.IsLoopback(target.Address))
            throw new ArgumentException("The relay only forwards to loopback addresses.", nameof(target));
        if (link is not null && (link.SliceBytes is < 1 or > BufferSize || link.BytesPerSecond < 1))
            throw new ArgumentOutOfRangeException(nameof(link), link, $"Slices are 1 to {BufferSize} bytes and the rate is positive.");
        return new LoopbackRelay(target, upstreamBudget, downstreamBudget, link);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            var server = new Socket(_target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            client.NoDelay = true;
            lock (_sockets)
                _sockets.AddRange([client, server]);
            try
            {
                await server.ConnectAsync(_target, _stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // ObjectDisposedException: the relay was disposed (and with it this socket) while it connected.
                client.Dispose();
                server.Dispose();
                continue;
            }
            _ = PumpAsync(client, server, upstream: true);
            _ = PumpAsync(server, client, upstream: false);
        }
    }

    private async Task PumpAsync(Socket from, Socket to, bool upstream)
    {
        var buffer = new byte[BufferSize];
        var clock = Stopwatch.StartNew();
        long paced = 0;
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                var allowed = upstream ? Claim(ref _upstream, _upstreamBudget, read) : Claim(ref _downstream, _downstreamBudget, read);
                if (allowed > 0 && _link is null)
                    await to.SendAsync(buffer.AsMemory(0, allowed), SocketFlags.None, _stop.Token);
                for (var offset = 0; _link is not null && offset < allowed; offset += _link.SliceBytes)
                {
                    var slice = Math.Min(_link.SliceBytes, allowed - offset);
                    await to.SendAsync(buffer.AsMemory(offset, slice), SocketFlags.None, _stop.Token);
                    paced += slice;
                    // The rate cap: wait until the link would have carried this much (the wait is the link's
                    // speed, not a guess at how fast anything else runs).
                    var ahead = TimeSpan.FromSeconds((double)paced / _link.BytesPerSecond) - clock.Elapsed;
                    if (ahead > SlowLink.PacingSlack)
                        await Task.Delay(ahead, _stop.Token);
                }
                if (allowed < read)
                {
                    // Stop reading: the sender fills its socket buffers and waits, mid-transfer, until the test ends it.
                    _held.TrySetResult();
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // A killed peer or a disposed relay: the connection simply ends, as a crash would end it.
            try { to.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }
    }

    /// <summary>Takes up to <paramref name="wanted"/> bytes from a direction's budget, which every connection shares.</summary>
    private static int Claim(ref long forwarded, long budget, int wanted)
    {
        var before = Interlocked.Add(ref forwarded, wanted) - wanted;
        var allowed = (int)Math.Clamp(budget - before, 0, wanted);
        if (allowed < wanted)
            Interlocked.Add(ref forwarded, allowed - wanted);
        return allowed;
    }

    /// <summary>Closes the listener and every relayed connection, as the kernel does for a process that dies.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        await _stop.CancelAsync();
        _listener.Dispose();
        lock (_sockets)
        {
            foreach (var socket in _sockets)
                socket.Dispose();
        }
        await _acceptLoop;
        _stop.Dispose();
    }
}
