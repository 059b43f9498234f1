// Uses only the public API of the Ferry.Protocol and Ferry.Client packages: connect, put, list, stat, get, exec and
// the errors, against the server given as the first argument (ferry serve --insecure-no-auth --allow-exec).
using System.Text;
using Ferry.Client;
using Ferry.Client.Exec;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;

if (args.Length != 2 || !ServerAddress.TryParse(args[0], out var address, out var error))
{
    Console.Error.WriteLine("usage: library-check HOST:PORT WORKDIR");
    return 2;
}
var work = args[1];
using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
var ct = timeout.Token;

var options = new FerryClientOptions { UseTls = false };
await using var client = await FerryClient.ConnectAsync(address.Value, options, ct);
Console.WriteLine($"connected: protocol {client.ServerProtocolVersion}, features {string.Join(',', client.ServerFeatures)}");

await client.MkdirAsync("lib", parents: true, ct);
var sent = Path.Combine(work, "sent.bin");
var payload = new byte[3_000_000];
new Random(7).NextBytes(payload);
await File.WriteAllBytesAsync(sent, payload, ct);
var progress = new Progress<long>(bytes => Console.WriteLine($"put progress: {bytes} bytes"));
var put = await client.PutFileAsync(sent, "lib/sent.bin", new PutOptions { Force = true }, progress, ct);
Console.WriteLine($"put {put.Bytes} bytes, checksum {put.Checksum} {put.Hash}");

var listed = await client.ListAsync("lib", cancellationToken: ct);
var entry = listed.SingleOrDefault(e => e.Name == "sent.bin") ?? throw new InvalidOperationException("failed: the listing names sent.bin");
Assert(entry.Kind == RemoteEntryKind.File && entry.Size == payload.Length, "the listing gives kind and size");
var stat = await client.StatAsync("lib/sent.bin", ct);
Assert(stat.Size == payload.Length, "stat gives the size");

var received = Path.Combine(work, "received.bin");
var get = await client.GetFileAsync("lib/sent.bin", received, new GetOptions { Force = true }, cancellationToken: ct);
Assert(get.Hash == put.Hash && (await File.ReadAllBytesAsync(received, ct)).AsSpan().SequenceEqual(payload), "get returns the same bytes");
Console.WriteLine($"get {get.Bytes} bytes back, identical");

using var stdout = new MemoryStream();
using var stderr = new MemoryStream();
var exec = await client.ExecAsync(ExecRequest.Command("echo", "hello from exec"), stdin: null, stdout, stderr, cancellationToken: ct);
var printed = Encoding.UTF8.GetString(stdout.ToArray()).Trim();
Assert(exec.ExitCode == 0 && printed == "hello from exec", $"exec runs a command (exit {exec.ExitCode}, printed '{printed}')");
Console.WriteLine($"exec: exit {exec.ExitCode}, stdout '{printed}'");

try
{
    await client.StatAsync("lib/missing.bin", ct);
    Assert(false, "stat of a missing file throws");
}
catch (FerryException missing)
{
    Assert(missing.Code == FerryErrorCode.NotFound && !missing.IsTransient, $"not_found, not transient (got {missing.Code})");
    Console.WriteLine($"stat of a missing file: {missing.Code.ToWire()}, transient {missing.IsTransient}");
}
Assert(!client.IsBroken, "a refusal leaves the connection usable");
await client.ByeAsync(ct);
Console.WriteLine("library check: all calls behaved as documented");
return 0;

static void Assert(bool holds, string what)
{
    if (!holds)
        throw new InvalidOperationException("failed: " + what);
}
