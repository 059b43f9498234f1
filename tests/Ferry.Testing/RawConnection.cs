using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Testing;

/// <summary>
/// A raw TCP peer for hostile and byte-exact tests: it sends whatever bytes it is given and reads replies with
/// Ferry's own frame reader.
/// </summary>
public sealed class RawConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;

    private RawConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        Reader = new FrameReader(_input);
    }

    public FrameReader Reader { get; }
    public Socket Socket => _socket;

    /// <param name="endPoint">The server.</param>
    /// <param name="from">A local address to connect from (another loopback address such as 127.0.0.2 counts as a different client address).</param>
    public static async Task<RawConnection> ConnectAsync(IPEndPoint endPoint, IPAddress? from = null)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (from is not null)
            socket.Bind(new IPEndPoint(from, 0));
        await socket.ConnectAsync(endPoint, TestTimeouts.Token());
        return new RawConnection(socket);
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes) => await _socket.SendAsync(bytes, SocketFlags.None, TestTimeouts.Token());

    /// <summary>
    /// Sends bytes the server may refuse partway: a server that rightly closes the connection before taking them all
    /// makes the send fail with a broken pipe or a reset, which is an answer, not a test failure. Returns whether every
    /// byte was handed to the kernel.
    /// </summary>
    public async Task<bool> SendMayBeRefusedAsync(ReadOnlyMemory<byte> bytes)
    {
        try
        {
            await SendAsync(bytes);
            return true;
        }
        catch (SocketException ex) when (IsRefusal(ex))
        {
            return false;
        }
    }

    /// <summary>
    /// Reads an error frame as <see cref="ReadErrorAsync"/> does, or null when the connection ended without one: after a
    /// refused send the server's reset may discard its error frame before it is read.
    /// </summary>
    public async Task<(string Code, bool Fatal)?> ReadErrorOrClosedAsync()
    {
        try
        {
            return await ReadAsync() is { } frame ? ErrorOf(frame) : null;
        }
        catch (Exception ex) when (ex is IOException or SocketException && IsRefusal(ex as SocketException ?? ex.InnerException as SocketException))
        {
            return null;
        }
    }

    private static bool IsRefusal(SocketException? ex) =>
        ex?.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted;

    /// <summary>Sends the standard hello.</summary>
    public Task SendHelloAsync() => SendAsync(FrameBytes.Frame(
        JsonSerializer.Serialize(new HelloMessage { Version = ProtocolVersion.Current, Agent = "raw-test" }, FerryJsonContext.Default.HelloMessage)));

    /// <summary>Reads one reply frame: its command, header JSON and whole body. Null when the server closed the connection.</summary>
    public async Task<ReceivedFrame?> ReadAsync()
    {
        var header = await Reader.ReadFrameAsync(TestTimeouts.Token());
        if (header is null)
            return null;
        var json = System.Text.Encoding.UTF8.GetString(header.Value.Json.Span);
        var body = new byte[header.Value.BodyLength];
        var filled = 0;
        while (filled < body.Length)
            filled += await Reader.ReadBodyAsync(body.AsMemory(filled), TestTimeouts.Token());
        return new ReceivedFrame(header.Value.Command, json, body);
    }

    /// <summary>Reads an error frame and returns its code; fails if the next frame is anything else.</summary>
    public async Task<(string Code, bool Fatal)> ReadErrorAsync()
    {
        var frame = await ReadAsync() ?? throw new InvalidOperationException("The server closed the connection instead of sending an error frame.");
        return ErrorOf(frame);
    }

    private static (string Code, bool Fatal) ErrorOf(ReceivedFrame frame)
    {
        if (frame.Command != CommandNames.Error)
            throw new InvalidOperationException($"Expected an error frame, got {frame.Json}");
        var error = JsonSerializer.Deserialize(frame.Json, FerryJsonContext.Default.ErrorMessage)!;
        return (error.Code, error.Fatal);
    }

    /// <summary>
    /// True when the server closes the connection (reads end, or it is reset) within the test timeout; false when it is
    /// still open then. Whatever else the server sends meanwhile is read and dropped.
    /// </summary>
    public async Task<bool> IsClosedByPeerAsync()
    {
        var buffer = new byte[256];
        using var deadline = new CancellationTokenSource(TestTimeouts.Default);
        try
        {
            while (true)
            {
                var n = await _socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
                if (n == 0)
                    return true;
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Reader.Dispose();
        await _input.CompleteAsync();
        await _stream.DisposeAsync();
    }
}

public sealed record ReceivedFrame(string Command, string Json, byte[] Body);
