using System.Diagnostics;
using Ferry.Cli;
using Ferry.Client.Transfers;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// put and get --bwlimit: the cap holds for uploads and downloads (only a lower bound on the time is checked, which a
/// busy machine can only make longer), and a rate that cannot be read is refused before connecting.
/// </summary>
public class BandwidthLimitTests
{
    private const long FileSize = 3 * 1024 * 1024;

    // 3 MiB at 1 MiB/s: the bucket starts with a quarter second of bytes, so no run can take under 2.75 s.
    private static readonly TimeSpan LeastTime = TimeSpan.FromSeconds(2.5);

    [Fact]
    public async Task Put_with_a_limit_takes_at_least_size_over_rate_and_arrives_whole()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("a.bin"), FileSize, seed: 21);

        var clock = Stopwatch.StartNew();
        var result = await Cli.RunAsync("put", "--plain", "--server", server.Address.ToString(), "--bwlimit", "1M", source, "a.bin");
        clock.Stop();

        result.AssertSuccess();
        Assert.True(clock.Elapsed >= LeastTime, $"3 MiB at 1 MiB/s went in {clock.Elapsed.TotalSeconds:F2} s");
        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(Path.Combine(server.Root, "a.bin")));
    }

    [Fact]
    public async Task Get_with_a_limit_is_throttled_read_by_read_and_arrives_whole()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var remote = TestFiles.Create(Path.Combine(server.Root, "b.bin"), FileSize, seed: 22);
        var target = local.Combine("b.bin");
        var progress = new List<(long Bytes, TimeSpan At)>();

        await using var client = await server.ConnectAsync();
        var clock = new Stopwatch();
        clock.Start();
        await client.GetFileAsync("b.bin", target, new GetOptions { BandwidthLimit = 1024 * 1024 },
            new SyncProgress(done => { lock (progress) progress.Add((done, clock.Elapsed)); }), TestTimeouts.Token());
        clock.Stop();

        Assert.True(clock.Elapsed >= LeastTime, $"3 MiB at 1 MiB/s came in {clock.Elapsed.TotalSeconds:F2} s");
        Assert.Equal(File.ReadAllBytes(remote), File.ReadAllBytes(target));
        // Throttled read by read, not charged for the whole body up front (a wait, then everything at full speed): the
        // first MiB was reported while at least 2 MiB less a quarter second of bytes were still to come.
        lock (progress)
        {
            var firstMiB = progress.First(p => p.Bytes >= 1024 * 1024);
            Assert.True(clock.Elapsed - firstMiB.At >= TimeSpan.FromSeconds(1),
                $"progress: {string.Join(", ", progress.Select(p => $"{p.Bytes} at {p.At.TotalSeconds:F2} s"))}; done at {clock.Elapsed.TotalSeconds:F2} s");
        }
    }

    [Theory]
    [InlineData("put", "fast")]
    [InlineData("put", "10X")]
    [InlineData("get", "0.5B")]
    [InlineData("get", "1.5Q")]
    public async Task A_rate_that_cannot_be_read_is_a_usage_error_before_connecting(string command, string rate)
    {
        using var local = new TempDirectory();
        var file = TestFiles.Create(local.Combine("c.bin"), 10, seed: 23);
        string[] paths = command == "put" ? [file, "c.bin"] : ["c.bin", local.Combine("d.bin")];
        var result = await Cli.RunAsync([command, "--plain", "--server", "127.0.0.1:1", "--json", "--bwlimit", rate, .. paths]);
        Assert.Equal(ExitCodes.Usage, result.ExitCode); // port 1 is never reached: a connection attempt would give 3
        Assert.Contains("--bwlimit", result.Stderr);
    }

    [Fact]
    public void A_library_limit_below_one_byte_per_second_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PutRun(new PutOptions { BandwidthLimit = 0 }, TransferObserver.None));
    }

    /// <summary>An <see cref="IProgress{T}"/> that runs on the reporting thread (Progress&lt;T&gt; would post it later).</summary>
    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
