using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Ferry.Protocol.Datagrams;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// A UDP socket on 127.0.0.1 that speaks the datagram protocol by hand (docs/protocol.md §7), to replay, tamper and count
/// bytes as an attacker would. It counts every byte it sends and receives.
/// </summary>
internal sealed class RawUdpPeer(IPEndPoint server) : IDisposable
{
    private readonly Socket _socket = Bound();
    private readonly byte[] _buffer = new byte[65536];
    private long _lastTimestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public long BytesSent { get; private set; }
    public long BytesReceived { get; private set; }

    /// <summary>A fresh, strictly increasing timestamp (as the real client sends).</summary>
    public long NextTimestamp() => _lastTimestamp = Math.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), _lastTimestamp + 1);

    public static byte[] Seal(UdpKind kind, string user, byte[] key, ulong id, long timestampMs, ReadOnlyMemory<byte> token, ReadOnlyMemory<byte> payload, uint index = 0) =>
        new UdpDatagram(kind, user, id, timestampMs, index, 0, token, payload).Encode(key, UdpDirection.ClientToServer);

    public static byte[] ExecPayload(string shell, string? cwd = null) =>
        JsonSerializer.SerializeToUtf8Bytes(new ExecMessage { Shell = shell, WorkingDirectory = cwd }, FerryJsonContext.Default.ExecMessage);

    public async Task SendAsync(byte[] datagram)
    {
        BytesSent += await _socket.SendToAsync(datagram, SocketFlags.None, server);
    }

    /// <summary>The next datagram that arrives (raw bytes), or null when <paramref name="cancellationToken"/> fires first.</summary>
    public async Task<byte[]?> ReceiveAsync(CancellationToken cancellationToken)
    {
        try
        {
            var r = await _socket.ReceiveFromAsync(_buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cancellationToken);
            BytesReceived += r.ReceivedBytes;
            return _buffer.AsSpan(0, r.ReceivedBytes).ToArray();
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Receives until a datagram of <paramref name="kind"/> for request <paramref name="id"/> arrives; returns it and everything before it.</summary>
    public async Task<(UdpDatagram Found, List<byte[]> Before)> ReceiveUntilAsync(byte[] key, ulong id, UdpKind kind)
    {
        var before = new List<byte[]>();
        var timeout = TestTimeouts.Token();
        while (true)
        {
            var bytes = await ReceiveAsync(timeout) ?? throw new TimeoutException($"No {kind} for request {id:x} arrived in time.");
            if (UdpDatagram.TryDecode(bytes, key, UdpDirection.ServerToClient, out var d) && d.RequestId == id && d.Kind == kind)
                return (d, before);
            before.Add(bytes);
        }
    }

    /// <summary>Sends an exec without a token and returns the address token the server answers with.</summary>
    public async Task<byte[]> ProveAddressAsync(string user, byte[] key, ulong id, byte[] payload)
    {
        await SendAsync(Seal(UdpKind.Exec, user, key, id, NextTimestamp(), default, payload));
        var (retry, _) = await ReceiveUntilAsync(key, id, UdpKind.Retry);
        return retry.Payload.ToArray();
    }

    /// <summary>
    /// A barrier: the server handles datagrams from one socket in order, so once the answer to a fresh request sent now
    /// has arrived, every answer to what was sent before it has arrived too. Returns those earlier datagrams.
    /// </summary>
    public async Task<List<byte[]>> BarrierAsync(string user, byte[] key)
    {
        var id = UdpDatagram.NewRequestId();
        var sent = BytesSent;
        var received = BytesReceived;
        await SendAsync(Seal(UdpKind.Exec, user, key, id, NextTimestamp(), default, ExecPayload("true")));
        var (found, before) = await ReceiveUntilAsync(key, id, UdpKind.Retry);
        // The barrier's own traffic is not the test's.
        BytesSent = sent;
        BytesReceived = received + before.Sum(b => (long)b.Length);
        _ = found;
        return before;
    }

    /// <summary>Runs a command by hand up to its result, without saying done (so the server keeps the result).</summary>
    public async Task<UdpExecResult> RunWithoutDoneAsync(string user, byte[] key, ulong id, byte[] payload)
    {
        var token = await ProveAddressAsync(user, key, id, payload);
        await SendAsync(Seal(UdpKind.Exec, user, key, id, NextTimestamp(), token, payload));
        return (await AwaitResultAsync(key, id))!;
    }

    /// <summary>
    /// Receives until request <paramref name="id"/> has its whole result, or with <paramref name="stopAtAccepted"/> until
    /// the server says it runs (then null). An error answer throws <see cref="FerryRemoteException"/>.
    /// </summary>
    public async Task<UdpExecResult?> AwaitResultAsync(byte[] key, ulong id, bool stopAtAccepted = false)
    {
        byte[]?[]? chunks = null;
        var received = 0;
        var timeout = TestTimeouts.Token();
        while (true)
        {
            var bytes = await ReceiveAsync(timeout) ?? throw new TimeoutException($"No answer to request {id:x} arrived in time.");
            if (!UdpDatagram.TryDecode(bytes, key, UdpDirection.ServerToClient, out var d) || d.RequestId != id)
                continue;
            switch (d.Kind)
            {
                case UdpKind.Error:
                    var error = JsonSerializer.Deserialize(d.Payload.Span, FerryJsonContext.Default.ErrorMessage)!;
                    throw new FerryRemoteException(FerryErrorCodes.FromWire(error.Code), error.Code, error.Message);
                case UdpKind.Accepted when stopAtAccepted:
                    return null;
                case UdpKind.Chunk:
                    chunks ??= new byte[d.Count][];
                    if (chunks[d.Index] is null)
                    {
                        chunks[d.Index] = d.Payload.ToArray();
                        received++;
                    }
                    if (received == chunks.Length)
                        return UdpExecResult.Decode(chunks.SelectMany(c => c!).ToArray());
                    break;
            }
        }
    }

    public void Dispose() => _socket.Dispose();

    private static Socket Bound()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 4 * 1024 * 1024 };
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }
}
