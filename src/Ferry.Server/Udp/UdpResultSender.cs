using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Ferry.Protocol.Datagrams;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Server.Diagnostics;

namespace Ferry.Server.Udp;

/// <summary>
/// Everything the UDP server sends: results cut into chunks, chunks asked for again, errors, and the small retry that asks
/// an address to prove it receives. Only an address that proved it (docs/protocol.md §7.2) gets more than one datagram
/// per datagram received, and an address that has not gets at most three times the bytes it sent (the anti-amplification
/// rule of RFC 9000 §8).
/// </summary>
internal sealed class UdpResultSender(Socket socket, FerryMetrics metrics, TimeProvider time)
{
    /// <summary>The most an unproved address may get back for the bytes it sent (RFC 9000 §8).</summary>
    public const int AmplificationFactor = 3;

    /// <summary>Cuts a result into chunk payloads (at least one, possibly empty).</summary>
    public static byte[][] Split(byte[] result)
    {
        var count = Math.Max(1, (result.Length + UdpDatagram.ChunkPayloadBytes - 1) / UdpDatagram.ChunkPayloadBytes);
        var chunks = new byte[count][];
        for (var i = 0; i < count; i++)
            chunks[i] = result.AsSpan(i * UdpDatagram.ChunkPayloadBytes, Math.Min(UdpDatagram.ChunkPayloadBytes, result.Length - i * UdpDatagram.ChunkPayloadBytes)).ToArray();
        return chunks;
    }

    /// <summary>
    /// Answers a datagram from an address that has not proved it receives: one datagram, and only when it is at most
    /// <see cref="AmplificationFactor"/> times the size of the datagram received. Returns false when it was not sent.
    /// </summary>
    public async ValueTask<bool> SendToUnprovedAsync(UserAccount user, UdpDatagram datagram, IPEndPoint to, int receivedBytes, CancellationToken cancellationToken)
    {
        var bytes = datagram.Encode(user.Key, UdpDirection.ServerToClient);
        if (bytes.Length > (long)AmplificationFactor * receivedBytes)
            return false;
        metrics.Sent(await socket.SendToAsync(bytes, SocketFlags.None, to, cancellationToken).ConfigureAwait(false), udp: true);
        return true;
    }

    /// <summary>Sends what the request has to show: accepted while it runs, every chunk when ready, or its error.</summary>
    public async ValueTask SendStateAsync(UserAccount user, UdpRequest request, IPEndPoint to, CancellationToken cancellationToken)
    {
        var (status, chunks, error) = request.Snapshot();
        switch (status)
        {
            case UdpRequestStatus.Failed:
                await SendErrorAsync(user, request.Id, to, error!.Value.Code, error.Value.Message, cancellationToken).ConfigureAwait(false);
                break;
            case UdpRequestStatus.Ready:
                for (var i = 0; i < chunks!.Length; i++)
                    await SendAsync(user, Chunk(user, request.Id, (uint)i, chunks), to, cancellationToken).ConfigureAwait(false);
                break;
            default: // running, or delivered (the client has it all and is told to stop asking)
                await SendAsync(user, new UdpDatagram(UdpKind.Accepted, user.Name, request.Id, Now, 0, 0, default, default), to, cancellationToken).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>Sends the chunks whose bits are set in a resend's bitmap (bit i = chunk Index + i), or the state when there is no result.</summary>
    public async ValueTask SendMissingAsync(UserAccount user, UdpRequest request, UdpDatagram resend, IPEndPoint to, CancellationToken cancellationToken)
    {
        var (status, chunks, _) = request.Snapshot();
        if (status != UdpRequestStatus.Ready)
        {
            await SendStateAsync(user, request, to, cancellationToken).ConfigureAwait(false);
            return;
        }
        var bitmap = resend.Payload;
        for (var bit = 0; bit < bitmap.Length * 8; bit++)
        {
            if ((bitmap.Span[bit / 8] & (1 << (bit % 8))) == 0)
                continue;
            var index = (long)resend.Index + bit;
            if (index >= chunks!.Length)
                break;
            await SendAsync(user, Chunk(user, request.Id, (uint)index, chunks), to, cancellationToken).ConfigureAwait(false);
        }
    }

    public ValueTask SendErrorAsync(UserAccount user, ulong id, IPEndPoint to, FerryErrorCode code, string message, CancellationToken cancellationToken)
    {
        metrics.Error(code);
        return SendAsync(user, new UdpDatagram(UdpKind.Error, user.Name, id, Now, 0, 0, default,
            JsonSerializer.SerializeToUtf8Bytes(new ErrorMessage { Code = code.ToWire(), Message = message }, FerryJsonContext.Default.ErrorMessage)), to, cancellationToken);
    }

    /// <summary>Sends to an address that proved it receives.</summary>
    public async ValueTask SendAsync(UserAccount user, UdpDatagram datagram, IPEndPoint to, CancellationToken cancellationToken) =>
        metrics.Sent(await socket.SendToAsync(datagram.Encode(user.Key, UdpDirection.ServerToClient), SocketFlags.None, to, cancellationToken).ConfigureAwait(false), udp: true);

    private UdpDatagram Chunk(UserAccount user, ulong id, uint index, byte[][] chunks) =>
        new(UdpKind.Chunk, user.Name, id, Now, index, (uint)chunks.Length, default, chunks[index]);

    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();
}
