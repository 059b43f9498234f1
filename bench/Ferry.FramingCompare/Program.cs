// Small-frame echo over loopback: Ferry.Protocol's framing against DotNetty's LengthFieldBasedFrameDecoder.
//   run [CONNECTIONS] [SECONDS] [BODY_BYTES]   starts each server in a child process, drives it with CONNECTIONS
//                                              request/reply loops for SECONDS after a 2 s warm-up, prints requests/s
//                                              and the server's allocated bytes per frame. Defaults: 100 10 32.
//   serve ferry|dotnetty                       one server; prints "port N"; answers "stats" on stdin.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Ferry.FramingCompare;

if (args is ["serve", var serverKind])
{
    var counter = new FrameCounter();
    var port = serverKind switch
    {
        "ferry" => new FerryEchoServer(counter).Start(),
        "dotnetty" => await new DotNettyEchoServer(counter).StartAsync(),
        _ => throw new ArgumentException($"unknown server '{serverKind}'"),
    };
    Console.WriteLine($"port {port}");
    while (Console.ReadLine() is { } line)
    {
        if (line == "stats")
            Console.WriteLine($"frames {counter.Frames} allocated {GC.GetTotalAllocatedBytes(precise: true)}");
    }
    Environment.Exit(0); // DotNetty's event loop threads would keep the process alive
}

var connections = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100;
var seconds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10;
var bodyBytes = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 32;
if (args.Length == 0 || args[0] != "run" || connections is < 1 or > 10_000 || seconds is < 1 or > 600 || bodyBytes is < 0 or > 60_000)
{
    Console.Error.WriteLine("usage: Ferry.FramingCompare run [CONNECTIONS 1-10000] [SECONDS 1-600] [BODY_BYTES 0-60000]");
    return 2;
}

var header = JsonSerializer.SerializeToUtf8Bytes(new EchoFrame { Cmd = "echo", BodySize = bodyBytes }, EchoJson.Default.EchoFrame);
var body = new byte[bodyBytes];
Random.Shared.NextBytes(body);
Console.WriteLine($"{connections} connections, {seconds} s after a 2 s warm-up, frames of 4 + {header.Length} + {bodyBytes} bytes, {Environment.ProcessorCount} cores");
Console.WriteLine("| server | requests/s | server CPU µs per frame | server bytes allocated per frame |");
Console.WriteLine("| --- | ---: | ---: | ---: |");
foreach (var kind in new[] { "ferry", "dotnetty" })
{
    // Ferry: the prefix counts the JSON header, the body follows. DotNetty: the prefix counts header and body, the
    // same bytes after it. Both servers send back exactly what they received.
    var request = new byte[4 + header.Length + bodyBytes];
    BinaryPrimitives.WriteInt32LittleEndian(request, kind == "ferry" ? header.Length : header.Length + bodyBytes);
    header.CopyTo(request, 4);
    body.CopyTo(request, 4 + header.Length);
    var (rps, cpuMicros, perFrame) = await MeasureAsync(kind, request, connections, TimeSpan.FromSeconds(seconds));
    Console.WriteLine($"| {kind} | {rps.ToString("N0", CultureInfo.InvariantCulture)} | {cpuMicros.ToString("N1", CultureInfo.InvariantCulture)} | {perFrame.ToString("N0", CultureInfo.InvariantCulture)} |");
}
return 0;

// CPU time per frame is the server process's user + system time over the measured frames: on a shared machine it
// says more about the server's cost than requests/s, which the client and other load also bound.
static async Task<(double Rps, double CpuMicrosPerFrame, double BytesPerFrame)> MeasureAsync(string kind, byte[] request, int connections, TimeSpan duration)
{
    var self = Environment.GetCommandLineArgs()[0];
    var start = self.EndsWith(".dll", StringComparison.Ordinal)
        ? new ProcessStartInfo(Environment.ProcessPath!, [self, "serve", kind])
        : new ProcessStartInfo(self, ["serve", kind]);
    start.RedirectStandardInput = true;
    start.RedirectStandardOutput = true;
    using var server = Process.Start(start)!;
    try
    {
        var port = int.Parse((await server.StandardOutput.ReadLineAsync())!.Split(' ')[1], CultureInfo.InvariantCulture);
        var sockets = new List<Socket>();
        for (var i = 0; i < connections; i++)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(IPAddress.Loopback, port);
            sockets.Add(socket);
        }
        long completed = 0;
        var measuring = false;
        using var stop = new CancellationTokenSource();
        var loops = sockets.Select(socket => Task.Run(async () =>
        {
            var reply = new byte[request.Length];
            while (!stop.IsCancellationRequested)
            {
                await socket.SendAsync(request);
                for (var filled = 0; filled < reply.Length;)
                {
                    var read = await socket.ReceiveAsync(reply.AsMemory(filled));
                    if (read == 0)
                        throw new IOException($"{kind} closed a connection");
                    filled += read;
                }
                if (Volatile.Read(ref measuring))
                    Interlocked.Increment(ref completed);
            }
            if (!reply.AsSpan().SequenceEqual(request))
                throw new InvalidDataException($"{kind} answered with other bytes");
        })).ToList();

        await Task.Delay(TimeSpan.FromSeconds(2));
        var before = await StatsAsync(server);
        server.Refresh();
        var cpuBefore = server.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        Volatile.Write(ref measuring, true);
        await Task.Delay(duration);
        Volatile.Write(ref measuring, false);
        var elapsed = clock.Elapsed;
        server.Refresh();
        var cpu = server.TotalProcessorTime - cpuBefore;
        var after = await StatsAsync(server);
        var counted = Interlocked.Read(ref completed);
        await stop.CancelAsync();
        await Task.WhenAll(loops);
        foreach (var socket in sockets)
            socket.Dispose();
        var frames = Math.Max(1, after.Frames - before.Frames);
        return (counted / elapsed.TotalSeconds, cpu.TotalMicroseconds / frames, (double)(after.Allocated - before.Allocated) / frames);
    }
    finally
    {
        server.StandardInput.Close();
        if (!server.WaitForExit(5000))
            server.Kill();
    }
}

static async Task<(long Frames, long Allocated)> StatsAsync(Process server)
{
    await server.StandardInput.WriteLineAsync("stats");
    await server.StandardInput.FlushAsync();
    var parts = (await server.StandardOutput.ReadLineAsync())!.Split(' ');
    return (long.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[3], CultureInfo.InvariantCulture));
}
