// A key-value server on Ferry's framing: set/get/del over TCP, one task per connection, values in memory.
// Usage: KeyValueServer [PORT]   (listens on 127.0.0.1; port 0 picks a free one and prints it)
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using KeyValue;

const int MaxValueBytes = 1024 * 1024;
const int MaxKeyLength = 256;
var limits = FrameLimits.Default with { MaxHeaderBytes = 4096 };
// A peer gets 5 minutes between frames and 10 seconds to finish a header it started (no slow-drip headers).
var timeouts = new FrameReadTimeouts(Idle: TimeSpan.FromMinutes(5), Header: TimeSpan.FromSeconds(10));
var store = new ConcurrentDictionary<string, byte[]>(StringComparer.Ordinal);

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
var listener = new TcpListener(IPAddress.Loopback, args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 0);
listener.Start();
Console.WriteLine($"listening on {listener.LocalEndpoint}");
try
{
    while (true)
    {
        var socket = await listener.AcceptSocketAsync(stop.Token);
        _ = Task.Run(() => ServeAsync(socket, stop.Token));
    }
}
catch (OperationCanceledException)
{
}
listener.Stop();

async Task ServeAsync(Socket socket, CancellationToken cancellationToken)
{
    await using var stream = new NetworkStream(socket, ownsSocket: true);
    var input = PipeReader.Create(stream);
    var output = PipeWriter.Create(stream);
    using var reader = new FrameReader(input, limits, timeouts);
    using var writer = new FrameWriter(output, limits);
    try
    {
        while (true)
        {
            try
            {
                // null: the client closed between frames. An unread body is skipped by the next ReadFrameAsync.
                if (await reader.ReadFrameAsync(cancellationToken) is not { } header)
                    break;
                await HandleAsync(header, reader, writer, cancellationToken);
            }
            catch (FerryException refused) when (refused is not FerryProtocolException { IsFatal: true })
            {
                writer.WriteError(refused); // the connection stays usable
            }
            await writer.FlushAsync(cancellationToken);
        }
    }
    catch (FerryProtocolException broken) when (broken.IsFatal)
    {
        // Frame boundaries are lost (or a deadline passed): say why, then close.
        writer.WriteError(broken, fatal: true);
        await writer.FlushAsync(CancellationToken.None);
    }
    catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
    {
    }
    finally
    {
        await input.CompleteAsync();
        await output.CompleteAsync();
    }
}

async Task HandleAsync(FrameHeader header, FrameReader reader, FrameWriter writer, CancellationToken cancellationToken)
{
    var request = header.Deserialize(KvJson.Default.KvRequest); // a missing or mistyped field: field_invalid
    if (request.Key is not { Length: > 0 and <= MaxKeyLength } key)
        throw new FerryException(FerryErrorCode.FieldInvalid, $"'key' must be 1 to {MaxKeyLength} characters.");
    switch (header.Command)
    {
        case "set":
            // Checked before a byte of the body is read: a declared 2 GiB value costs the server nothing.
            if (header.BodyLength > MaxValueBytes)
                throw new FerryProtocolException(FerryErrorCode.BodyTooLarge, $"Values are limited to {MaxValueBytes} bytes.", isFatal: true);
            var value = new byte[header.BodyLength];
            for (var filled = 0; filled < value.Length;)
                filled += await reader.ReadBodyAsync(value.AsMemory(filled), cancellationToken);
            store[key] = value;
            writer.WriteHeader(new KvReply { Cmd = "ok" }, KvJson.Default.KvReply);
            break;
        case "get":
            if (!store.TryGetValue(key, out var stored))
                throw new FerryException(FerryErrorCode.NotFound, $"No value for '{key}'.");
            writer.WriteHeader(new KvReply { Cmd = "value", BodySize = stored.Length }, KvJson.Default.KvReply, stored.Length);
            writer.WriteBody(stored);
            break;
        case "del":
            if (!store.TryRemove(key, out _))
                throw new FerryException(FerryErrorCode.NotFound, $"No value for '{key}'.");
            writer.WriteHeader(new KvReply { Cmd = "ok" }, KvJson.Default.KvReply);
            break;
        default:
            throw new FerryException(FerryErrorCode.CommandUnknown, $"Unknown command '{header.Command}'; this server knows set, get and del.");
    }
}
