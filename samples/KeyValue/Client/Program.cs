// A client of the key-value sample: sets, reads and deletes a value, then shows how errors arrive.
// Usage: KeyValueClient HOST:PORT      Exits 0 when every answer was the expected one.
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using KeyValue;

var (host, port) = args.Length == 1 && args[0].LastIndexOf(':') is var colon and > 0
    ? (args[0][..colon], int.Parse(args[0][(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture))
    : throw new ArgumentException("usage: KeyValueClient HOST:PORT");
using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
var ct = timeout.Token;

using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
await socket.ConnectAsync(host, port, ct);
await using var stream = new NetworkStream(socket, ownsSocket: false);
var input = PipeReader.Create(stream);
var output = PipeWriter.Create(stream);
using var reader = new FrameReader(input);
using var writer = new FrameWriter(output);

var value = Encoding.UTF8.GetBytes("hello, framing");
writer.WriteHeader(new KvRequest { Cmd = "set", Key = "greeting", BodySize = value.Length }, KvJson.Default.KvRequest, value.Length);
writer.WriteBody(value);
await writer.FlushAsync(ct);
await ExpectAsync("ok");

writer.WriteHeader(new KvRequest { Cmd = "get", Key = "greeting" }, KvJson.Default.KvRequest);
await writer.FlushAsync(ct);
var reply = await ExpectAsync("value");
var back = new byte[reply.BodyLength];
for (var filled = 0; filled < back.Length;)
    filled += await reader.ReadBodyAsync(back.AsMemory(filled), ct);
Console.WriteLine($"get greeting -> {Encoding.UTF8.GetString(back)}");
if (!back.AsSpan().SequenceEqual(value))
    return 1;

writer.WriteHeader(new KvRequest { Cmd = "del", Key = "greeting" }, KvJson.Default.KvRequest);
await writer.FlushAsync(ct);
await ExpectAsync("ok");

// A refusal arrives as an error frame with a stable code; the connection stays usable.
writer.WriteHeader(new KvRequest { Cmd = "get", Key = "greeting" }, KvJson.Default.KvRequest);
await writer.FlushAsync(ct);
try
{
    await ExpectAsync("value");
    return 1;
}
catch (FerryRemoteException missing) when (missing.Code == FerryErrorCode.NotFound)
{
    Console.WriteLine($"get greeting after del -> {missing.WireCode}: {missing.Message}");
}

// A value over the server's limit is refused from its header alone, and the server closes the connection.
writer.WriteHeader(new KvRequest { Cmd = "set", Key = "big", BodySize = 1L << 31 }, KvJson.Default.KvRequest, 1L << 31);
await writer.FlushAsync(ct);
try
{
    await ExpectAsync("ok");
    return 1;
}
catch (FerryRemoteException tooLarge) when (tooLarge.Code == FerryErrorCode.BodyTooLarge)
{
    Console.WriteLine($"set of 2 GiB -> {tooLarge.WireCode}: {tooLarge.Message}");
}
Console.WriteLine("all answers as expected");
return 0;

// Reads the next frame: an error frame becomes its exception, anything but 'expected' is a protocol error.
async Task<FrameHeader> ExpectAsync(string expected)
{
    var header = await reader.ReadFrameAsync(ct)
        ?? throw new FerryProtocolException(FerryErrorCode.TruncatedFrame, "The server closed the connection.", isFatal: true);
    if (header.IsError)
        throw header.ToException();
    if (header.Command != expected)
        throw new FerryProtocolException(FerryErrorCode.UnexpectedFrame, $"Expected '{expected}', got '{header.Command}'.", isFatal: true);
    Console.WriteLine($"<- {header.Command}");
    return header;
}
