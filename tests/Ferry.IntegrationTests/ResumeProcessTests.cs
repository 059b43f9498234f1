using System.Diagnostics;
using System.Text.Json;
using Ferry.Testing;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests;

/// <summary>
/// A real ferry process is killed in the middle of a transfer, then the user runs the command again (with --resume, or plainly: resuming is automatic):
/// the file must arrive intact, only the missing part must move, and the final name must never show a partial file.
/// </summary>
[Collection(LargeTransfers.Name)]
public class ResumeProcessTests(ITestOutputHelper output)
{
    private const long Size = 512L * 1024 * 1024;
    private const long KillAfter = 64L * 1024 * 1024;

    [Fact]
    public async Task An_upload_killed_midway_resumes_and_the_target_never_holds_a_partial_file()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-resume-put");
        var source = TestFiles.Create(local.Combine("big.bin"), Size, seed: 11);
        var target = Path.Combine(server.Root, "big.bin");
        using var watcher = new TargetWatcher(target, Size);

        await using (var first = FerryProcess.Start(["put", "--plain", "--server", server.Address.ToString(), "-q", source, "big.bin"]))
        {
            var partial = await WaitForPartialAsync(server.Root, first);
            first.Signal("KILL");
            await first.WaitForExitAsync();
            output.WriteLine($"killed the uploader with {partial / (1024 * 1024)} MiB in the server's partial file");
        }
        Assert.False(File.Exists(target));
        await WaitUntilAsync(() => server.Server.ConnectionCount == 0); // the server saw the connection go

        var resumed = await RunToEndAsync(["put", "--plain", "--server", server.Address.ToString(), "--resume", "--json", source, "big.bin"]);
        var (offset, done) = StartAndDone(resumed);
        Assert.InRange(offset, 1, Size - 1); // continued where the server's partial upload ended
        Assert.Equal(Size, done.GetProperty("bytes").GetInt64());
        TestFiles.AssertSame(source, target);
        Assert.Empty(Directory.GetFiles(server.Root, ".ferry-part*"));
        watcher.AssertNeverPartial();
    }

    [Fact]
    public async Task A_download_killed_midway_resumes_and_the_target_never_holds_a_partial_file()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-resume-get");
        var stored = TestFiles.Create(Path.Combine(server.Root, "big.bin"), Size, seed: 12);
        var target = local.Combine("big.bin");
        using var watcher = new TargetWatcher(target, Size);

        await using (var first = FerryProcess.Start(["get", "--plain", "--server", server.Address.ToString(), "-q", "big.bin", target]))
        {
            var partial = await WaitForPartialAsync(local.Path, first);
            first.Signal("KILL");
            await first.WaitForExitAsync();
            output.WriteLine($"killed the downloader with {partial / (1024 * 1024)} MiB in its partial file");
        }
        Assert.False(File.Exists(target));
        Assert.Single(Directory.GetFiles(local.Path, ".ferry-part.big.bin"));

        // The same command again, without --resume: a retry picks up the partial download by itself.
        var resumed = await RunToEndAsync(["get", "--plain", "--server", server.Address.ToString(), "--json", "big.bin", target]);
        var (offset, done) = StartAndDone(resumed);
        Assert.InRange(offset, 1, Size - 1);
        Assert.Equal(Size, done.GetProperty("bytes").GetInt64());
        TestFiles.AssertSame(stored, target);
        Assert.Empty(Directory.GetFiles(local.Path, ".ferry-part*"));
        watcher.AssertNeverPartial();
    }

    /// <summary>Waits until a partial file in <paramref name="directory"/> holds at least <see cref="KillAfter"/> bytes; returns its size.</summary>
    private static async Task<long> WaitForPartialAsync(string directory, FerryProcess process)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TestTimeouts.Default)
        {
            foreach (var part in Directory.GetFiles(directory, ".ferry-part.*").Where(p => !p.EndsWith(".meta", StringComparison.Ordinal)))
            {
                var length = new FileInfo(part).Length;
                if (length >= KillAfter)
                    return length;
            }
            if (process.HasExited)
                throw new InvalidOperationException($"ferry finished before it could be interrupted (exit {process.ExitCode}): {process.Stderr}");
            await Task.Delay(1);
        }
        throw new TimeoutException("No partial file grew to the kill point.");
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunToEndAsync(string[] args)
    {
        await using var process = FerryProcess.Start(args);
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {process.Stderr}");
        return (process.ExitCode, process.Stdout, process.Stderr);
    }

    /// <summary>The start event's resume offset and the done event of a --json run.</summary>
    private static (long Offset, JsonElement Done) StartAndDone((int ExitCode, string Stdout, string Stderr) run)
    {
        var events = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        var start = events.Single(e => e.GetProperty("event").GetString() == "start");
        var done = events.Single(e => e.GetProperty("event").GetString() == "done");
        return (start.TryGetProperty("offset", out var offset) ? offset.GetInt64() : 0, done);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < TestTimeouts.Default, "timed out waiting");
            await Task.Delay(10);
        }
    }

    /// <summary>Polls a path for the whole test: whenever it exists it must already have its full size.</summary>
    private sealed class TargetWatcher : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private long _partialSeen = -1;
        private int _checks;

        public TargetWatcher(string path, long fullSize)
        {
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    try
                    {
                        var info = new FileInfo(path);
                        if (info.Exists && info.Length != fullSize)
                            Interlocked.CompareExchange(ref _partialSeen, info.Length, -1);
                    }
                    catch (IOException)
                    {
                    }
                    Interlocked.Increment(ref _checks);
                    await Task.Delay(1, CancellationToken.None);
                }
            });
        }

        public void AssertNeverPartial()
        {
            _stop.Cancel();
            _loop.GetAwaiter().GetResult();
            Assert.True(_checks > 10, "the watcher did not run");
            Assert.True(_partialSeen == -1, $"the target held a partial file of {_partialSeen} bytes");
        }

        public void Dispose()
        {
            _stop.Cancel();
            _stop.Dispose();
        }
    }
}
