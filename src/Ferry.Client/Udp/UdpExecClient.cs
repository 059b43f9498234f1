using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Ferry.Client.Security;
using Ferry.Protocol.Datagrams;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;

namespace Ferry.Client.Udp;

/// <summary>Retry policy for UDP exec.</summary>
internal sealed record UdpExecOptions
{
    /// <summary>Wait before the first retransmission; doubled each time up to <see cref="MaxRetryDelay"/>. Default 200 ms.</summary>
    public TimeSpan InitialRetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Retransmissions without any progress before giving up. Default 10.</summary>
    public int RetryBudget { get; init; } = 10;

    /// <summary>How long to wait for a running command while the server keeps saying it is running. Default 1 h.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>
/// Runs one command over UDP (docs/protocol.md §7): the request is resent with backoff until the server acknowledges it,
/// lost result chunks are asked for again by bitmap, and the same request id is used throughout so the server never
/// runs the command twice. Every datagram is encrypted and authenticated (AES-GCM) under keys derived from the user's key
/// and the request id; the server's first answer is an address token (for this address and this boot of the server) that
/// every later datagram carries.
/// </summary>
internal static class UdpExecClient
{
    public static async Task<UdpExecResult> ExecAsync(ServerAddress server, ClientCredentials credentials, ExecMessage request, UdpExecOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new UdpExecOptions();
        var addresses = await Dns.GetHostAddressesAsync(server.Host, cancellationToken).ConfigureAwait(false);
        var target = new IPEndPoint(addresses.First(), server.Port);
        using var socket = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 4 * 1024 * 1024 };
        socket.Bind(new IPEndPoint(target.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0));

        var id = UdpDatagram.NewRequestId();
        var payload = JsonSerializer.SerializeToUtf8Bytes(request, FerryJsonContext.Default.ExecMessage);
        if (payload.Length > UdpDatagram.MaxPayloadBytes(credentials.User.Length))
            throw new FerryException(FerryErrorCode.FieldInvalid, "The command is too long for one datagram; use TCP (without --udp).");

        byte[]?[]? chunks = null;
        ReadOnlyMemory<byte> token = default; // learned from the server's retry
        var lastTimestamp = long.MinValue;
        var received = 0;
        var accepted = false;
        var delay = options.InitialRetryDelay;
        var retriesLeft = options.RetryBudget;
        var started = DateTime.UtcNow;
        var buffer = new byte[64 * 1024];

        await SendAsync(UdpKind.Exec, 0, payload).ConfigureAwait(false);
        while (true)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(delay);
            var progressed = false;
            try
            {
                while (true)
                {
                    var result = await socket.ReceiveFromAsync(buffer, SocketFlags.None, target, wait.Token).ConfigureAwait(false);
                    if (!UdpDatagram.TryDecode(buffer.AsSpan(0, result.ReceivedBytes), credentials.Key, UdpDirection.ServerToClient, out var datagram)
                        || datagram.RequestId != id)
                        continue; // forged, corrupted or from another request
                    switch (datagram.Kind)
                    {
                        case UdpKind.Retry:
                            // The server wants proof that we receive here (first contact, a new address, or it restarted).
                            if (datagram.Payload.Length != UdpDatagram.TokenBytes || datagram.Payload.Span.SequenceEqual(token.Span))
                                continue;
                            token = datagram.Payload.ToArray();
                            progressed = true;
                            await SendNextAsync().ConfigureAwait(false);
                            break;
                        case UdpKind.Accepted:
                            if (!accepted)
                                progressed = true;
                            accepted = true;
                            break;
                        case UdpKind.Error:
                            throw JsonSerializer.Deserialize(datagram.Payload.Span, FerryJsonContext.Default.ErrorMessage)!.ToException();
                        case UdpKind.Chunk:
                            accepted = true;
                            if (datagram.Count == 0 || datagram.Count > 1 << 20 || datagram.Index >= datagram.Count)
                                continue;
                            chunks ??= new byte[datagram.Count][];
                            if (chunks.Length != datagram.Count || chunks[datagram.Index] is not null)
                                continue;
                            chunks[datagram.Index] = datagram.Payload.ToArray();
                            received++;
                            progressed = true;
                            if (received == chunks.Length)
                            {
                                await SendAsync(UdpKind.Done, 0, default).ConfigureAwait(false);
                                return UdpExecResult.Decode(chunks.SelectMany(c => c!).ToArray());
                            }
                            break;
                    }
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Quiet for 'delay': ask again below.
            }
            catch (SocketException)
            {
                // ICMP port unreachable and the like: count it as a lost round.
            }

            if (progressed)
            {
                retriesLeft = options.RetryBudget;
                delay = options.InitialRetryDelay;
            }
            else
            {
                // A running command keeps the request alive; silence does not.
                if (!accepted || chunks is not null)
                    retriesLeft--;
                if (retriesLeft <= 0)
                    throw new TimeoutException($"No answer from {server} over UDP after {options.RetryBudget} retransmissions; " +
                        "check --server, that the server runs with --udp-listen, and the network.");
                if (DateTime.UtcNow - started > options.CommandTimeout)
                    throw new TimeoutException($"The command did not finish within {options.CommandTimeout}.");
                delay = delay * 2 > options.MaxRetryDelay ? options.MaxRetryDelay : delay * 2;
            }

            await SendNextAsync().ConfigureAwait(false);
        }

        async Task SendNextAsync()
        {
            if (!accepted)
                await SendAsync(UdpKind.Exec, 0, payload).ConfigureAwait(false);
            else if (chunks is null)
                await SendAsync(UdpKind.Resend, 0, new byte[] { 0x01 }).ConfigureAwait(false); // "still running?" (asks for chunk 0)
            else
                await RequestMissingAsync().ConfigureAwait(false);
        }

        async Task RequestMissingAsync()
        {
            var first = Array.FindIndex(chunks!, c => c is null);
            var maxBits = UdpDatagram.MaxPayloadBytes(credentials.User.Length) * 8;
            var bitmap = new byte[(Math.Min(maxBits, chunks!.Length - first) + 7) / 8];
            for (var bit = 0; bit < bitmap.Length * 8 && first + bit < chunks.Length; bit++)
            {
                if (chunks[first + bit] is null)
                    bitmap[bit / 8] |= (byte)(1 << (bit % 8));
            }
            await SendAsync(UdpKind.Resend, (uint)first, bitmap).ConfigureAwait(false);
        }

        async Task SendAsync(UdpKind kind, uint index, ReadOnlyMemory<byte> body)
        {
            // Strictly increasing per request: the server drops a datagram not newer than the last one it took (a replay).
            lastTimestamp = Math.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), lastTimestamp + 1);
            var datagram = new UdpDatagram(kind, credentials.User, id, lastTimestamp, index, 0, token, body);
            await socket.SendToAsync(datagram.Encode(credentials.Key, UdpDirection.ClientToServer), SocketFlags.None, target, cancellationToken).ConfigureAwait(false);
        }
    }
}
