using Ferry.Client;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Testing;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Ferry.IntegrationTests.Nats;

/// <summary>
/// The cluster loses a machine in the middle of an upload: the upload finishes or fails with a clear error, resumes, and
/// no partial or mixed file is ever visible. Each test has its own cluster, since it kills one of its nodes.
/// </summary>
public sealed class NatsFailureTests
{
    private const int MiB = 1024 * 1024;
    private static CancellationToken Token => TestTimeouts.Token(TimeSpan.FromMinutes(4));

    [Fact]
    public async Task Killing_the_data_streams_leader_during_a_256_MiB_upload_loses_nothing_and_the_upload_resumes()
    {
        await using var cluster = await NatsCluster.StartAsync();
        await using var pair = await NatsServerPair.StartAsync(cluster);
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("big.bin"), 256 * MiB, seed: 21);
        await using var a = await pair.LoginAsync(pair.A);
        await using var b = await pair.LoginAsync(pair.B);

        var leader = await StreamLeaderAsync(cluster, "OBJ_" + pair.Options.DataBucket);
        var killed = 0;
        var progress = new Progress<long>(done =>
        {
            if (done >= 96 * MiB && Interlocked.Exchange(ref killed, 1) == 0)
                leader.Kill();
        });
        FerryException? failure = null;
        try
        {
            await a.PutFileAsync(source, "big.bin", progress: progress, cancellationToken: Token);
        }
        catch (FerryException e)
        {
            failure = e;
        }
        Assert.True(killed == 1, $"the upload ended before the leader was killed: {failure}\n{Crashes(pair)}");
        // While the upload is cut off (or just after it completed), the name shows nothing or the whole file.
        await AssertWholeOrAbsentAsync(b, "big.bin", 256 * MiB);

        if (failure is not null)
        {
            await using var again = await LoginRetryingAsync(pair, pair.B);
            await again.PutFileAsync(source, "big.bin", new PutOptions { Resume = true }, cancellationToken: Token);
        }
        // What the name points to is complete while the node is away: the same size through either server.
        Assert.Equal(256 * MiB, (await b.StatAsync("big.bin", Token)).Size);
        Assert.Equal(256 * MiB, (await a.StatAsync("big.bin", Token)).Size);

        // With the node still away, the file reads back identical through the other server (parts are read by direct
        // gets, which the remaining replicas answer).
        await using (var reader = await LoginRetryingAsync(pair, pair.B))
        {
            try
            {
                await reader.GetFileAsync("big.bin", local.Combine("back.bin"), cancellationToken: Token);
            }
            catch (FerryException e)
            {
                Assert.Fail(e + "\n" + Crashes(pair));
            }
        }
        TestFiles.AssertSame(source, local.Combine("back.bin"));

        // The node comes back and catches up; reads go on.
        leader.Start();
        await cluster.WaitHealthyAsync();
        await a.GetFileAsync("big.bin", local.Combine("again.bin"), cancellationToken: Token);
        TestFiles.AssertSame(source, local.Combine("again.bin"));
    }

    [Fact]
    public async Task Servers_outlive_a_cluster_that_loses_its_quorum_and_serve_again_once_it_is_back()
    {
        await using var cluster = await NatsCluster.StartAsync();
        await using var pair = await NatsServerPair.StartAsync(cluster, configure: o => o with { PartialUploadTtl = TimeSpan.FromSeconds(1) });
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("f.bin"), 300_000, seed: 5);

        // Two of three nodes gone: nothing can be written or read; the servers go on (their periodic sweeps fail or wait).
        cluster.Nodes[1].Kill();
        cluster.Nodes[2].Kill();
        await using (var a = await pair.LoginAsync(pair.A))
        {
            var refused = await Assert.ThrowsAsync<FerryRemoteException>(() => a.PutFileAsync(source, "f.bin", cancellationToken: Token));
            Assert.True(refused.Code == FerryErrorCode.IoError, refused.Code + ": " + refused.Message);
        }

        cluster.Nodes[1].Start();
        cluster.Nodes[2].Start();
        await cluster.WaitHealthyAsync();
        await using var again = await LoginRetryingAsync(pair, pair.A);
        await RetryWhileIoErrorAsync(() => again.PutFileAsync(source, "f.bin", new PutOptions { Force = true }, cancellationToken: Token));
        await using var b = await pair.LoginAsync(pair.B);
        await RetryWhileIoErrorAsync(() => b.GetFileAsync("f.bin", local.Combine("back.bin"), new GetOptions { Force = true }, cancellationToken: Token));
        TestFiles.AssertSame(source, local.Combine("back.bin"));
    }

    [Fact]
    public async Task With_the_names_streams_leader_away_listings_and_quota_checked_puts_work_through_both_servers()
    {
        await using var cluster = await NatsCluster.StartAsync();
        await using var pair = await NatsServerPair.StartAsync(cluster, quota: 4 * MiB);
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("f.bin"), 300_000, seed: 9);
        var over = TestFiles.Create(local.Combine("over.bin"), 4 * MiB, seed: 10);
        await using (var a = await pair.LoginAsync(pair.A))
            await a.PutFileAsync(source, "before.bin", cancellationToken: Token);

        // The names stream must elect another leader, and on 2.9.10 no consumer can be placed for minutes: listings and
        // quota checks must not need one. B has not counted this user's quota yet, so it starts counting with the node away.
        (await StreamLeaderAsync(cluster, "KV_" + pair.Options.MetaBucket)).Kill();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (var (writer, lister, name) in new[] { (pair.A, pair.B, "a.bin"), (pair.B, pair.A, "b.bin") })
        {
            await using var put = await LoginRetryingAsync(pair, writer);
            await put.PutFileAsync(source, name, cancellationToken: Token);
            // A listing through the other server right after the put sees it.
            await using var ls = await LoginRetryingAsync(pair, lister);
            var names = (await ls.ListAsync("", cancellationToken: Token)).Select(e => e.Name).ToList();
            string[] expected = name == "a.bin" ? ["a.bin", "before.bin"] : ["a.bin", "b.bin", "before.bin"];
            Assert.Equal(expected, names.Order(StringComparer.Ordinal));
            // The quota is counted: what would go over it is refused before any data is sent.
            var refused = await Assert.ThrowsAsync<FerryRemoteException>(() => put.PutFileAsync(over, "over.bin", cancellationToken: Token));
            Assert.True(refused.Code == FerryErrorCode.QuotaExceeded, refused.Code + ": " + refused.Message);
        }
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"took {clock.Elapsed} with a node away\n{Crashes(pair)}");
    }

    /// <summary>
    /// Runs <paramref name="action"/> again while a cluster that just came back still answers io_error (a minute at most),
    /// or while an upload is refused as taken over: with the 1 s partial-upload TTL this test sets, a periodic sweep gives
    /// up an upload whose part took longer than that to store in the recovering cluster, and the upload then stops with
    /// already_exists, as it would if another connection had taken it over.
    /// </summary>
    private static async Task RetryWhileIoErrorAsync<T>(Func<Task<T>> action)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await action();
                return;
            }
            catch (FerryRemoteException e) when (e.Code is FerryErrorCode.IoError or FerryErrorCode.AlreadyExists && clock.Elapsed < TimeSpan.FromMinutes(1))
            {
                await Task.Delay(250);
            }
        }
    }

    /// <summary>What the servers logged of commands that failed unexpectedly (for the failure message).</summary>
    private static string Crashes(NatsServerPair pair) =>
        string.Join("\n", new[] { pair.A, pair.B }.SelectMany(s => s.Logs.Lines).Where(l => l.Exception is not null || l.Level >= Microsoft.Extensions.Logging.LogLevel.Warning && !l.Message.StartsWith("PLAIN")).Select(l => l.Message + ": " + l.Exception));

    /// <summary>
    /// The name by itself (a stat reads one key from the stream's leader), not a listing: a listing goes through a
    /// consumer, which nats-server 2.9.10 may not place for minutes while a node is away (docs/scale-out.md).
    /// </summary>
    private static async Task AssertWholeOrAbsentAsync(FerryClient client, string name, long size)
    {
        try
        {
            var entry = await client.StatAsync(name, Token);
            Assert.True(entry.Size == size, $"{name} is visible with {entry.Size} bytes");
        }
        catch (FerryRemoteException e) when (e.Code == FerryErrorCode.NotFound)
        {
            // Absent: the upload was cut off before its commit.
        }
    }

    private static async Task<FerryClient> LoginRetryingAsync(NatsServerPair pair, TestServer server)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await pair.LoginAsync(server);
            }
            catch (FerryException) when (clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(200);
            }
        }
    }

    /// <summary>The node that leads the stream's RAFT group, as the cluster reports it.</summary>
    private static async Task<NatsNode> StreamLeaderAsync(NatsCluster cluster, string stream)
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = cluster.Url });
        var js = new NatsJSContext(connection);
        var info = await js.GetStreamAsync(stream, cancellationToken: Token);
        var name = info.Info.Cluster?.Leader ?? throw new InvalidOperationException($"{stream} reports no leader");
        return cluster.Nodes.Single(n => n.Name == name);
    }
}
