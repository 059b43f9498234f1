using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Serialization;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;

namespace Ferry.FramingCompare;

/// <summary>An echo server written as samples/KeyValue's server is: one reader and writer per connection, the body bounded before it is read.</summary>
internal sealed class FerryEchoServer(FrameCounter counter)
{
    private const int MaxBody = 64 * 1024;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public int Start()
    {
        _listener.Start(1024);
        _ = AcceptAsync();
        return ((IPEndPoint)_listener.LocalEndpoint).Port;
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            var socket = await _listener.AcceptSocketAsync();
            socket.NoDelay = true;
            _ = Task.Run(() => ServeAsync(socket));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        var input = PipeReader.Create(stream);
        var output = PipeWriter.Create(stream);
        using var reader = new FrameReader(input);
        using var writer = new FrameWriter(output);
        var body = new byte[MaxBody];
        try
        {
            while (await reader.ReadFrameAsync(CancellationToken.None) is { } header)
            {
                if (header.BodyLength > MaxBody)
                {
                    writer.WriteError(new FerryProtocolException(FerryErrorCode.BodyTooLarge, "too large", isFatal: true), fatal: true);
                    await writer.FlushAsync(CancellationToken.None);
                    return;
                }
                var length = (int)header.BodyLength;
                for (var filled = 0; filled < length;)
                    filled += await reader.ReadBodyAsync(body.AsMemory(filled, length - filled), CancellationToken.None);
                writer.WriteHeader(new EchoFrame { Cmd = "echo", BodySize = length }, EchoJson.Default.EchoFrame, length);
                writer.WriteBody(body.AsSpan(0, length));
                await writer.FlushAsync(CancellationToken.None);
                counter.Add();
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or FerryException)
        {
        }
        finally
        {
            await input.CompleteAsync();
            await output.CompleteAsync();
        }
    }
}

internal sealed record EchoFrame
{
    [JsonPropertyName("cmd")] public required string Cmd { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
}

[JsonSerializable(typeof(EchoFrame))]
internal sealed partial class EchoJson : JsonSerializerContext;
