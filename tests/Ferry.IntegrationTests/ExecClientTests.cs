using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Ferry.Client;
using Ferry.Client.Exec;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Testing;
using Xunit.Abstractions;
using ExecResult = Ferry.Client.Exec.ExecResult;
using static Ferry.IntegrationTests.ExecProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary><see cref="FerryClient.ExecAsync"/> against a real server and real processes (and a fake server for encodings).</summary>
public class ExecClientTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await TestServer.StartAsync(o => o with { AllowExec = true, ExecTimeout = TimeSpan.FromMinutes(1) });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    internal static string Marker() => $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000)}";

    [Fact]
    public async Task Output_streams_live_into_separate_streams_and_the_connection_stays_usable()
    {
        await using var client = await _server.ConnectAsync();
        // The command waits, after its output, until the test has seen that output: only output written as produced
        // lets it end (buffered until the exit, it would wait until the test's deadline).
        var go = Path.Combine(_server.Root, "go");
        var stdout = new FirstWriteStream(() => File.WriteAllText(go, ""));
        var stderr = new MemoryStream();
        var result = await client.ExecAsync(ExecRequest.ShellLine("echo one; echo two >&2; echo 中文; while [ ! -e go ]; do sleep 0.02; done; rm go; exit 3"), null, stdout, stderr,
            cancellationToken: TestTimeouts.Token());

        Assert.Equal("one\n中文\n", Encoding.UTF8.GetString(stdout.ToArray()));
        Assert.Equal("two\n", Encoding.UTF8.GetString(stderr.ToArray()));
        Assert.Equal(3, result.ExitCode);
        Assert.Equal("utf-8", result.ServerEncoding);
        Assert.False(result.Transcoded || result.TimedOut || result.Interrupted || result.Truncated);
        Assert.False(File.Exists(go)); // the command saw it, and took it away

        // exec_done handed the connection back: ordinary requests and further commands work.
        Assert.Empty(await client.ListAsync("", cancellationToken: TestTimeouts.Token()));
        var again = await client.ExecAsync(ExecRequest.Command("true"), null, Stream.Null, Stream.Null, cancellationToken: TestTimeouts.Token());
        Assert.Equal(0, again.ExitCode);
        Assert.False(client.IsBroken);
    }

    [Fact]
    public async Task Argv_runs_without_a_shell_stdin_is_forwarded_in_pieces_and_cwd_applies()
    {
        await using var client = await _server.ConnectAsync();
        var literal = await RunAsync(client, ExecRequest.Command("echo", "$HOME; rm -rf /"));
        Assert.Equal("$HOME; rm -rf /\n", literal.Stdout);
        var viaShell = await RunAsync(client, ExecRequest.ShellLine("echo $FERRY"));
        Assert.Equal("1\n", viaShell.Stdout);

        var input = new byte[3 * 1024 * 1024 + 17];
        Random.Shared.NextBytes(input);
        var counted = await RunAsync(client, ExecRequest.Command("wc", "-c"), new MemoryStream(input));
        Assert.Equal(input.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), counted.Stdout.Trim());
        var echoed = await RunAsync(client, ExecRequest.Command("cat"), new MemoryStream(input));
        Assert.Equal(input, echoed.StdoutBytes);

        Directory.CreateDirectory(Path.Combine(_server.Root, "sub", "dir"));
        var pwd = await RunAsync(client, ExecRequest.Command("pwd") with { WorkingDirectory = "sub/dir" });
        Assert.Equal(Path.Combine(_server.Root, "sub", "dir") + "\n", pwd.Stdout);
    }

    [Fact]
    public async Task Commands_start_with_default_signals_in_a_session_of_their_own()
    {
        await using var client = await _server.ConnectAsync();
        // The server itself ignores SIGPIPE and blocks signals on its threads; none of that may reach the command.
        var status = await RunAsync(client, ExecRequest.Command("grep", "-E", "^(SigBlk|SigIgn):", "/proc/self/status"));
        // Signals 1-31 only: glibc reserves 32 and 33 for itself and installs its own handlers in every new program.
        var masks = status.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .ToDictionary(line => line.Split(':')[0], line => Convert.ToUInt64(line.Split('\t')[1], 16) & 0x7FFF_FFFF);
        Assert.Equal(0UL, masks["SigBlk"]);
        Assert.Equal(0UL, masks["SigIgn"]);
        var piped = await RunAsync(client, ExecRequest.ShellLine("kill -PIPE $$; echo survived"));
        Assert.Equal(141, piped.Code);
        Assert.Equal("", piped.Stdout);
        // Leader of its own session and group: the pid, the group and the session are one number.
        var ids = await RunAsync(client, ExecRequest.ShellLine("cut -d' ' -f1,5,6 /proc/$$/stat"));
        var parts = ids.Stdout.Trim().Split(' ');
        Assert.Equal(3, parts.Length);
        Assert.All(parts, p => Assert.Equal(parts[0], p));
    }

    [Fact]
    public async Task Cancelling_interrupts_the_command_reads_its_exit_and_keeps_the_connection()
    {
        var marker = Marker();
        await using var client = await _server.ConnectAsync();
        using var cts = new CancellationTokenSource();
        var stdout = new MemoryStream();
        var run = client.ExecAsync(ExecRequest.ShellLine($"echo started; sleep {marker}"), null, stdout, Stream.Null, cancellationToken: cts.Token);
        await HostTests.WaitUntilAsync(() => ProcessesWith(marker).Count == 1);
        var watch = Stopwatch.StartNew();
        await cts.CancelAsync();
        var result = await run;
        output.WriteLine($"interrupted in {watch.ElapsedMilliseconds} ms");

        Assert.True(result.Interrupted);
        Assert.True(result.Killed);
        Assert.Equal(130, result.ExitCode); // 128 + SIGINT
        Assert.Equal("started\n", Encoding.UTF8.GetString(stdout.ToArray()));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}"); // the command alone would sleep for days
        await AssertNoProcessWithAsync(marker);
        Assert.Equal(0, (await RunAsync(client, ExecRequest.Command("true"))).Code);
    }

    [Fact]
    public async Task A_command_that_ignores_the_interrupt_is_killed_after_the_grace()
    {
        var marker = Marker();
        await using var client = await _server.ConnectAsync();
        using var cts = new CancellationTokenSource();
        var options = new ExecOptions { KillAfter = TimeSpan.FromMilliseconds(500) };
        var run = client.ExecAsync(ExecRequest.ShellLine($"trap '' INT; sleep {marker}; echo survived"), null, Stream.Null, Stream.Null, options, cts.Token);
        await HostTests.WaitUntilAsync(() => ProcessesWith(marker).Count == 1);
        var watch = Stopwatch.StartNew();
        await cts.CancelAsync();
        var result = await run;

        Assert.Equal(137, result.ExitCode); // 128 + SIGKILL
        Assert.True(result.Interrupted);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(30)); // not before the grace; not the days of the sleep
        await AssertNoProcessWithAsync(marker);
        Assert.False(client.IsBroken);
    }

    [Fact]
    public async Task Output_that_cannot_be_written_stops_the_command_and_the_connection_survives()
    {
        var marker = Marker();
        await using var client = await _server.ConnectAsync();
        var error = await Assert.ThrowsAsync<IOException>(() =>
            client.ExecAsync(ExecRequest.Command("yes", marker), null, new FailingStream(), Stream.Null, cancellationToken: TestTimeouts.Token()));
        Assert.Contains("could not be written", error.Message);
        await AssertNoProcessWithAsync(marker);
        Assert.False(client.IsBroken);
        Assert.Equal("ok\n", (await RunAsync(client, ExecRequest.ShellLine("echo ok"))).Stdout);
    }

    [Fact]
    public async Task Refusals_are_remote_errors_that_leave_the_connection_usable()
    {
        await using (var client = await _server.ConnectAsync())
        {
            var missing = await Assert.ThrowsAsync<FerryRemoteException>(() => RunAsync(client, ExecRequest.Command("pwd") with { WorkingDirectory = "nope" }));
            Assert.Equal(FerryErrorCode.NotFound, missing.Code);
            var escape = await Assert.ThrowsAsync<FerryException>(() => RunAsync(client, ExecRequest.Command("pwd") with { WorkingDirectory = "../x" }));
            Assert.Equal(FerryErrorCode.PathEscapesRoot, escape.Code);
            Assert.Equal(0, (await RunAsync(client, ExecRequest.Command("true"))).Code);
        }

        await using var disabled = await TestServer.StartAsync();
        await using var other = await disabled.ConnectAsync();
        var refused = await Assert.ThrowsAsync<FerryRemoteException>(() => RunAsync(other, ExecRequest.ShellLine("true")));
        Assert.Equal(FerryErrorCode.ExecDisabled, refused.Code);
        Assert.False(other.IsBroken);
        Assert.Equal("HI", Encoding.UTF8.GetString(await other.EchoAsync("hi"u8.ToArray(), TestTimeouts.Token())));
    }

    [Fact]
    public async Task Output_is_converted_to_the_callers_encoding_and_raw_leaves_it_alone()
    {
        await using var client = await _server.ConnectAsync();
        OutputTranscoder.EnsureCodePages();
        var gbk = Encoding.GetEncoding("gbk");

        // GBK bytes (中文) from a server that declares utf-8, read by a utf-8 client: same encoding, nothing is touched.
        var bytes = await RunAsync(client, ExecRequest.ShellLine(@"printf '\326\320\316\304'"));
        Assert.Equal(new byte[] { 0xD6, 0xD0, 0xCE, 0xC4 }, bytes.StdoutBytes);

        // A caller whose terminal speaks GBK gets GBK, on both streams.
        var converted = await RunAsync(client, ExecRequest.ShellLine("echo 中文; echo 错误 >&2"), options: new ExecOptions { OutputEncoding = gbk });
        Assert.True(converted.Result.Transcoded);
        Assert.Equal(gbk.GetBytes("中文\n"), converted.StdoutBytes);
        Assert.Equal(gbk.GetBytes("错误\n"), converted.StderrBytes);
        var raw = await RunAsync(client, ExecRequest.ShellLine("echo 中文"), options: new ExecOptions { OutputEncoding = gbk, Raw = true });
        Assert.False(raw.Result.Transcoded);
        Assert.Equal("中文\n"u8.ToArray(), raw.StdoutBytes);
    }

    [Fact]
    public async Task A_gbk_server_is_converted_to_utf8_even_with_characters_split_across_frames()
    {
        OutputTranscoder.EnsureCodePages();
        var gbkText = Encoding.GetEncoding("gbk").GetBytes("中文\n");
        Assert.Equal(new byte[] { 0xD6, 0xD0, 0xCE, 0xC4, 0x0A }, gbkText);
        // Every character cut in half: D6 | D0 CE | C4 0A.
        byte[][] frames = [[0xD6], [0xD0, 0xCE], [0xC4, 0x0A]];

        var (utf8, received) = await FakeServer.RunAsync("gbk", frames, new ExecOptions());
        Assert.Equal("中文\n", Encoding.UTF8.GetString(utf8.Stdout));
        Assert.Equal("中文\n", Encoding.UTF8.GetString(utf8.Stderr));
        Assert.True(utf8.Result.Transcoded);
        Assert.Equal("gbk", utf8.Result.ServerEncoding);
        Assert.Equal(["exec", "stdin_end", "exec_done", "ls"], received);

        var (raw, _) = await FakeServer.RunAsync("gbk", frames, new ExecOptions { Raw = true });
        Assert.Equal(gbkText, raw.Stdout);
        Assert.False(raw.Result.Transcoded);
    }

    [Fact]
    public void The_transcoder_keeps_a_split_character_until_its_rest_arrives()
    {
        OutputTranscoder.EnsureCodePages();
        var gbk = Encoding.GetEncoding("gbk");
        var source = gbk.GetBytes("中文 ok 错误");
        for (var cut1 = 0; cut1 <= source.Length; cut1++)
        {
            for (var cut2 = cut1; cut2 <= source.Length; cut2++)
            {
                var transcoder = new OutputTranscoder(gbk, Encoding.UTF8);
                var result = transcoder.Convert(source.AsSpan(0, cut1), flush: false)
                    .Concat(transcoder.Convert(source.AsSpan(cut1, cut2 - cut1), flush: false))
                    .Concat(transcoder.Convert(source.AsSpan(cut2), flush: true))
                    .ToArray();
                Assert.Equal("中文 ok 错误", Encoding.UTF8.GetString(result));
            }
        }
        // A character left incomplete at the end becomes one replacement character, not silence.
        var cut = new OutputTranscoder(gbk, Encoding.UTF8);
        Assert.Equal("中\uFFFD", Encoding.UTF8.GetString([.. cut.Convert(source.AsSpan(0, 3), flush: false), .. cut.Convert([], flush: true)]));
        Assert.Equal(65001, OutputTranscoder.FindEncoding("utf-8")!.CodePage);
        Assert.Equal(936, OutputTranscoder.FindEncoding("GBK")!.CodePage);
        Assert.Null(OutputTranscoder.FindEncoding("no-such-encoding"));
    }

    internal sealed record Outcome(ExecResult Result, byte[] StdoutBytes, byte[] StderrBytes)
    {
        public string Stdout => Encoding.UTF8.GetString(StdoutBytes);
        public int Code => Result.ExitCode;
    }

    internal static async Task<Outcome> RunAsync(FerryClient client, ExecRequest request, Stream? stdin = null, ExecOptions? options = null)
    {
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        var result = await client.ExecAsync(request, stdin, stdout, stderr, options, TestTimeouts.Token());
        return new Outcome(result, stdout.ToArray(), stderr.ToArray());
    }

    /// <summary>Records when the first bytes were written.</summary>
    /// <summary>A destination that calls <paramref name="onFirstWrite"/> when the first output reaches it.</summary>
    private sealed class FirstWriteStream(Action onFirstWrite) : MemoryStream
    {
        private int _written;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Exchange(ref _written, 1) == 0)
                onFirstWrite();
            return base.WriteAsync(buffer, cancellationToken);
        }
    }

    /// <summary>A destination that breaks on the first write, like a pipe whose reader left.</summary>
    private sealed class FailingStream : MemoryStream
    {
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromException(new IOException("Broken pipe"));
    }

    /// <summary>
    /// A server that declares an output encoding of its choice and sends given stdout frames (and the same on stderr),
    /// then exit; it records the client's frames. One connection, one command, then one ls to show the connection is
    /// ordinary again.
    /// </summary>
    private static class FakeServer
    {
        public sealed record Received(ExecResult Result, byte[] Stdout, byte[] Stderr);

        public static async Task<(Received, List<string>)> RunAsync(string encoding, byte[][] frames, ExecOptions options)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var commands = new List<string>();
            var serve = ServeAsync(listener, encoding, frames, commands);
            Received received;
            await using (var client = await FerryClient.ConnectAsync(new ServerAddress("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port),
                new FerryClientOptions { UseTls = false }, TestTimeouts.Token()))
            {
                var stdout = new MemoryStream();
                var stderr = new MemoryStream();
                var result = await client.ExecAsync(ExecRequest.ShellLine("type gbk.txt"), null, stdout, stderr, options, TestTimeouts.Token());
                Assert.Empty(await client.ListAsync("", cancellationToken: TestTimeouts.Token()));
                received = new Received(result, stdout.ToArray(), stderr.ToArray());
            }
            await serve;
            return (received, commands);
        }

        private static async Task ServeAsync(TcpListener listener, string encoding, byte[][] frames, List<string> commands)
        {
            using var socket = await listener.AcceptSocketAsync(TestTimeouts.Token());
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            using var reader = new FrameReader(PipeReader.Create(stream));
            using var writer = new FrameWriter(PipeWriter.Create(stream));
            var ct = TestTimeouts.Token();
            while (await reader.ReadFrameAsync(ct) is { } header)
            {
                if (header.Command != CommandNames.Hello)
                    commands.Add(header.Command);
                switch (header.Command)
                {
                    case CommandNames.Hello:
                        writer.WriteHeader(new HelloMessage { Version = ProtocolVersion.Current, Features = ["exec", "ls"] }, FerryJsonContext.Default.HelloMessage);
                        break;
                    case CommandNames.Exec:
                        var id = header.Deserialize(FerryJsonContext.Default.ExecMessage).Id;
                        writer.WriteHeader(new ExecStartedMessage { Id = id, Encoding = encoding }, FerryJsonContext.Default.ExecStartedMessage);
                        foreach (var isError in new[] { false, true })
                        {
                            foreach (var frame in frames)
                            {
                                writer.WriteHeader(new ExecOutputMessage { Id = id, IsError = isError, BodySize = frame.Length }, FerryJsonContext.Default.ExecOutputMessage, frame.Length);
                                writer.WriteBody(frame);
                                await writer.FlushAsync(ct); // separate TCP writes, so the client sees separate pieces
                            }
                        }
                        writer.WriteHeader(new ExecExitMessage { Id = id, Code = 0 }, FerryJsonContext.Default.ExecExitMessage);
                        break;
                    case CommandNames.List:
                        writer.WriteHeader(new ListingMessage { Path = "", Count = 0, BodySize = 0 }, FerryJsonContext.Default.ListingMessage);
                        break;
                }
                await writer.FlushAsync(ct);
            }
        }
    }
}

/// <summary>A 100 MiB output through the library: exact count, bounded memory. Alone, so the heap figures are its own.</summary>
[Collection(nameof(MemorySensitive))]
public class ExecLargeOutputTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_100_MiB_output_streams_through_with_a_bounded_heap()
    {
        const long Size = 100L * 1024 * 1024;
        await using var server = await TestServer.StartAsync(o => o with { AllowExec = true });
        await using var client = await server.ConnectAsync();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        long peak = baseline;
        using var done = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: false));
                await Task.Delay(5);
            }
        });

        var counter = new CountingStream();
        var watch = Stopwatch.StartNew();
        var result = await client.ExecAsync(ExecRequest.ShellLine($"head -c {Size} /dev/zero"), null, counter, Stream.Null, cancellationToken: TestTimeouts.Token());
        watch.Stop();
        await done.CancelAsync();
        await sampler;

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(Size, counter.Count);
        Assert.Equal(Size, result.StdoutBytes);
        Assert.True(counter.OnlyZeros);
        output.WriteLine($"100 MiB in {watch.Elapsed.TotalSeconds:0.00} s ({100 / watch.Elapsed.TotalSeconds:0} MiB/s); heap baseline {baseline / 1048576.0:0.0} MiB, peak {peak / 1048576.0:0.0} MiB, {counter.Writes} writes");
        Assert.True(peak - baseline < 64L * 1024 * 1024, $"heap grew by {(peak - baseline) / 1048576.0:0.0} MiB");
    }

    private sealed class CountingStream : Stream
    {
        public long Count;
        public long Writes;
        public bool OnlyZeros = true;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Count;
        public override long Position { get => Count; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Count += buffer.Length;
            Writes++;
            if (OnlyZeros && buffer.ContainsAnyExcept((byte)0))
                OnlyZeros = false;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }
    }
}
