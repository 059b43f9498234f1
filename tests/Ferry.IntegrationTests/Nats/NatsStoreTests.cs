using Ferry.Client;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Server.Storage.Nats;
using Ferry.Testing;

namespace Ferry.IntegrationTests.Nats;

/// <summary>
/// Two servers sharing a NATS JetStream cluster (three real nats-server processes on loopback): what one server stores,
/// the other serves, byte for byte; names change through either and both see the same tree.
/// </summary>
public sealed class NatsStoreTests(NatsClusterFixture nats) : IClassFixture<NatsClusterFixture>
{
    private static CancellationToken Token => TestTimeouts.Token();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1024 * 1024)]
    [InlineData(5 * 1024 * 1024 + 3)]
    public async Task A_file_put_through_one_server_comes_back_identical_through_the_other(int size)
    {
        await using var pair = await NatsServerPair.StartAsync(nats.Cluster);
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("in.bin"), size, seed: size);
        await using var a = await pair.LoginAsync(pair.A);
        await using var b = await pair.LoginAsync(pair.B);

        var put = await a.PutFileAsync(source, "in.bin", cancellationToken: Token);
        var get = await b.GetFileAsync("in.bin", local.Combine("out.bin"), cancellationToken: Token);

        Assert.Equal(put.Hash, get.Hash);
        TestFiles.AssertSame(source, local.Combine("out.bin"));
        Assert.Equal(size, (await b.StatAsync("in.bin", Token)).Size);
        // Nothing of it on either server's disk: the cluster holds it.
        Assert.False(File.Exists(Path.Combine(pair.A.Root, "ana", "in.bin")));
        Assert.False(File.Exists(Path.Combine(pair.B.Root, "ana", "in.bin")));
    }

    [Fact]
    public async Task Mkdir_mv_and_rm_through_one_server_are_seen_identically_through_the_other()
    {
        await using var pair = await NatsServerPair.StartAsync(nats.Cluster);
        using var local = new TempDirectory();
        var source = TestFiles.CreateText(local.Combine("note.txt"), "hello");
        await using var a = await pair.LoginAsync(pair.A);
        await using var b = await pair.LoginAsync(pair.B);

        await a.MkdirAsync("x/y/z", parents: true, Token);
        await a.PutFileAsync(source, "x/y/z/note.txt", cancellationToken: Token);
        await b.PutFileAsync(source, "x/top.txt", cancellationToken: Token);
        Assert.Equal(await Tree(a), await Tree(b));
        Assert.Equal(["x", "x/top.txt", "x/y", "x/y/z", "x/y/z/note.txt"], await Tree(b));

        // A folder rename moves its whole tree in one write.
        await b.MoveAsync("x/y", "moved", cancellationToken: Token);
        Assert.Equal(["moved", "moved/z", "moved/z/note.txt", "x", "x/top.txt"], await Tree(a));
        await a.MoveAsync("x/top.txt", "moved/z/top.txt", cancellationToken: Token);
        Assert.Equal(await Tree(a), await Tree(b));
        var error = await Assert.ThrowsAsync<FerryRemoteException>(() => b.MoveAsync("moved/z/top.txt", "moved/z/note.txt", cancellationToken: Token));
        Assert.Equal(FerryErrorCode.AlreadyExists, error.Code);
        error = await Assert.ThrowsAsync<FerryRemoteException>(() => b.MoveAsync("moved", "moved/z/inside", cancellationToken: Token));
        Assert.Equal(FerryErrorCode.FieldInvalid, error.Code);

        error = await Assert.ThrowsAsync<FerryRemoteException>(() => a.RemoveAsync("moved", cancellationToken: Token));
        Assert.Equal(FerryErrorCode.DirectoryNotEmpty, error.Code);
        await a.RemoveAsync("moved", recursive: true, Token);
        Assert.Equal(["x"], await Tree(b));
        error = await Assert.ThrowsAsync<FerryRemoteException>(() => b.GetFileAsync("moved/z/note.txt", local.Combine("gone.txt"), cancellationToken: Token));
        Assert.Equal(FerryErrorCode.NotFound, error.Code);
        error = await Assert.ThrowsAsync<FerryRemoteException>(() => b.MkdirAsync("x", cancellationToken: Token));
        Assert.Equal(FerryErrorCode.AlreadyExists, error.Code);
    }

    [Fact]
    public async Task An_overwrite_needs_force_and_the_replaced_contents_are_swept_once_old()
    {
        await using var pair = await NatsServerPair.StartAsync(nats.Cluster);
        using var local = new TempDirectory();
        var first = TestFiles.Create(local.Combine("first.bin"), 300_000, seed: 1);
        var second = TestFiles.Create(local.Combine("second.bin"), 200_000, seed: 2);
        await using var a = await pair.LoginAsync(pair.A);
        await using var b = await pair.LoginAsync(pair.B);

        await a.PutFileAsync(first, "f.bin", cancellationToken: Token);
        var refused = await Assert.ThrowsAsync<FerryRemoteException>(() => b.PutFileAsync(second, "f.bin", cancellationToken: Token));
        Assert.Equal(FerryErrorCode.AlreadyExists, refused.Code);
        await b.PutFileAsync(second, "f.bin", new Ferry.Client.Transfers.PutOptions { Force = true }, cancellationToken: Token);
        await a.GetFileAsync("f.bin", local.Combine("back.bin"), cancellationToken: Token);
        TestFiles.AssertSame(second, local.Combine("back.bin"));

        // The first contents (and the refused attempt's, if it got as far as the cluster) now belong to no name.
        var (young, _) = await pair.ProviderOf(pair.A).SweepPartialUploadsAsync(DateTimeOffset.UtcNow - TimeSpan.FromHours(1), Token);
        Assert.Equal(0, young); // too recent: could be an upload under way on some server
        var (swept, _) = await pair.ProviderOf(pair.A).SweepPartialUploadsAsync(DateTimeOffset.UtcNow + TimeSpan.FromMinutes(1), Token);
        Assert.InRange(swept, 1, 2);
        await b.GetFileAsync("f.bin", local.Combine("again.bin"), cancellationToken: Token);
        TestFiles.AssertSame(second, local.Combine("again.bin"));
    }

    [Fact]
    public async Task An_upload_cut_off_through_one_server_resumes_through_the_other_from_its_stored_parts()
    {
        const int MiB = 1024 * 1024;
        await using var pair = await NatsServerPair.StartAsync(nats.Cluster);
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("big.bin"), 24 * MiB + 5, seed: 8);

        await using (var first = await pair.LoginAsync(pair.A))
        {
            // Not disposed: Progress runs its handler later on the thread pool, and a report that comes after the put ended
            // would cancel a disposed source, an unhandled exception that ends the test process.
            var stop = new CancellationTokenSource();
            var progress = new Progress<long>(done => { if (done >= 14 * MiB) stop.Cancel(); });
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.PutFileAsync(source, "big.bin", progress: progress, cancellationToken: stop.Token));
        }
        await using var b = await pair.LoginAsync(pair.B);
        // Nothing is visible under the name before the upload completes.
        Assert.DoesNotContain(await b.ListAsync("", cancellationToken: Token), e => e.Name == "big.bin");

        // Server A records each part once the cluster has stored it: wait for the first before resuming through B (B may
        // still take over while A records a later one, and then resumes from fewer parts).
        await Eventually.UntilAsync(() => StoredParts(pair, "big.bin") >= 1, "server A to record a stored part", TimeSpan.FromMinutes(1));
        var result = await b.PutFileAsync(source, "big.bin", new PutOptions { Resume = true }, cancellationToken: Token);
        Assert.True(result.ResumedFrom >= 4 * MiB && result.ResumedFrom % (4 * MiB) == 0, $"resumed from {result.ResumedFrom}");
        Assert.Equal(24 * MiB + 5 - result.ResumedFrom, result.BytesTransferred);

        await using var a = await pair.LoginAsync(pair.A);
        await a.GetFileAsync("big.bin", local.Combine("back.bin"), cancellationToken: Token);
        TestFiles.AssertSame(source, local.Combine("back.bin"));

        // Reads from inside a part (a resumed download starts there) come back right too.
        var store = pair.ProviderOf(pair.B).ForUser(pair.User);
        await using var stored = await store.OpenReadAsync("big.bin", Token);
        var expected = File.ReadAllBytes(source);
        foreach (var offset in new long[] { 9 * MiB + 3, 4 * MiB, 24 * MiB, 1 })
        {
            var buffer = new byte[100_000];
            var n = await stored.ReadAsync(buffer, offset, Token);
            Assert.Equal(expected.AsSpan((int)offset, n).ToArray(), buffer.AsSpan(0, n).ToArray());
            Assert.True(n > 0);
        }
    }

    [Fact]
    public async Task An_upload_whose_state_the_sweep_removed_stops_with_words_that_say_so()
    {
        const int MiB = 1024 * 1024;
        await using var pair = await NatsServerPair.StartAsync(nats.Cluster);
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("slow.bin"), 24 * MiB, seed: 12);
        await using var a = await pair.LoginAsync(pair.A);
        // Slow enough (4 MiB/s, 6 s in all) that the upload is still sending when its state goes.
        var upload = a.PutFileAsync(source, "slow.bin", new PutOptions { BandwidthLimit = 4 * MiB }, cancellationToken: Token);
        await Eventually.UntilAsync(() => StoredParts(pair, "slow.bin") >= 1, "server A to record a stored part", TimeSpan.FromMinutes(1));

        // What a sweep does to an upload older than the partial-upload TTL: its state is deleted.
        await using (var connection = new NATS.Client.Core.NatsConnection(new NATS.Client.Core.NatsOpts { Url = nats.Cluster.Url }))
        {
            var kv = await new NATS.Client.KeyValueStore.NatsKVContext(new NATS.Client.JetStream.NatsJSContext(connection))
                .GetStoreAsync(pair.Options.MetaBucket, Token);
            await kv.DeleteAsync(NatsKeys.Upload(NatsKeys.Token("ana"), "slow.bin"), cancellationToken: Token);
        }

        var refused = await Assert.ThrowsAsync<FerryRemoteException>(() => upload);
        Assert.Equal(FerryErrorCode.AlreadyExists, refused.Code);
        Assert.Contains("no longer open", refused.Message);
        Assert.Contains("partial-upload TTL", refused.Message);
        Assert.DoesNotContain(await a.ListAsync("", cancellationToken: Token), e => e.Name == "slow.bin");
    }

    [Fact]
    public async Task Two_uploads_of_one_name_through_both_servers_at_once_leave_one_whole_file()
    {
        const int MiB = 1024 * 1024;
        await using var pair = await NatsServerPair.StartAsync(nats.Cluster);
        using var local = new TempDirectory();
        var one = TestFiles.Create(local.Combine("one.bin"), 9 * MiB + 1, seed: 31);
        var two = TestFiles.Create(local.Combine("two.bin"), 7 * MiB + 2, seed: 32);
        for (var round = 0; round < 3; round++)
        {
            await using var a = await pair.LoginAsync(pair.A);
            await using var b = await pair.LoginAsync(pair.B);
            var puts = new[]
            {
                a.PutFileAsync(one, "same.bin", new PutOptions { Force = true }, cancellationToken: Token),
                b.PutFileAsync(two, "same.bin", new PutOptions { Force = true }, cancellationToken: Token),
            };
            try
            {
                await Task.WhenAll(puts);
            }
            catch (FerryRemoteException e) when (e.Code is FerryErrorCode.AlreadyExists or FerryErrorCode.TransferInProgress)
            {
                // The loser of the race is told so; the winner's file stands.
            }
            catch (Exception e)
            {
                Assert.Fail(e.Message + "\n" + string.Join("\n", new[] { pair.A, pair.B }.SelectMany(s => s.Logs.Lines).Select(l => l.Category + " " + l.Message + " " + l.Exception)));
            }
            Assert.Contains(puts, p => p.IsCompletedSuccessfully);
            var back = local.Combine($"back{round}.bin");
            await a.GetFileAsync("same.bin", back, cancellationToken: Token);
            var got = File.ReadAllBytes(back);
            Assert.True(got.AsSpan().SequenceEqual(File.ReadAllBytes(one)) || got.AsSpan().SequenceEqual(File.ReadAllBytes(two)),
                $"round {round}: same.bin holds {got.Length} bytes that are neither upload");
        }
    }

    [Fact]
    public async Task The_sweep_purges_chunks_of_a_part_whose_put_never_finished_once_they_are_old()
    {
        await using var pair = await NatsServerPair.StartAsync(nats.Cluster);
        using var local = new TempDirectory();
        var kept = TestFiles.Create(local.Combine("kept.bin"), 300_000, seed: 41);
        await using var a = await pair.LoginAsync(pair.A);
        await a.PutFileAsync(kept, "kept.bin", cancellationToken: Token);

        // What a server killed in the middle of a part's put leaves: chunks, and no metadata record pointing to them.
        await using var connection = new NATS.Client.Core.NatsConnection(new NATS.Client.Core.NatsOpts { Url = nats.Cluster.Url });
        var js = new NATS.Client.JetStream.NatsJSContext(connection);
        var orphan = $"$O.{pair.Options.DataBucket}.C.orphan{NatsKeys.NewId()[..8]}";
        for (var i = 0; i < 3; i++)
            Assert.Null((await js.PublishAsync(orphan, new byte[1000], cancellationToken: Token)).Error);
        async Task<long> ChunksOnOrphan()
        {
            var stream = await js.GetStreamAsync("OBJ_" + pair.Options.DataBucket,
                new NATS.Client.JetStream.Models.StreamInfoRequest { SubjectsFilter = orphan }, Token);
            return stream.Info.State.Subjects is { } subjects && subjects.TryGetValue(orphan, out var count) ? count : 0;
        }
        Assert.Equal(3, await ChunksOnOrphan());

        // Young: may be a put under way on some server, so it stays.
        await pair.ProviderOf(pair.A).SweepPartialUploadsAsync(DateTimeOffset.UtcNow - TimeSpan.FromHours(1), Token);
        Assert.Equal(3, await ChunksOnOrphan());
        // Old: purged; the stored file is untouched.
        await pair.ProviderOf(pair.A).SweepPartialUploadsAsync(DateTimeOffset.UtcNow + TimeSpan.FromMinutes(1), Token);
        Assert.Equal(0, await ChunksOnOrphan());
        await a.GetFileAsync("kept.bin", local.Combine("back.bin"), cancellationToken: Token);
        TestFiles.AssertSame(kept, local.Combine("back.bin"));
    }

    [Fact]
    public async Task Sweeps_of_both_servers_finish_while_the_objects_they_list_are_deleted()
    {
        // Every server sweeps the whole cluster, and every delete stores a new record of the object: two sweeps at once
        // each list the objects while they and the other delete them. The object store's own listing hung there until
        // its token fired once two such records had been stored during it.
        await using var pair = await NatsServerPair.StartAsync(nats.Cluster);
        await using var buckets = await NatsBuckets.OpenAsync(pair.Options, Token);
        const int Count = 8;
        for (var i = 0; i < Count; i++)
            await buckets.Data.PutAsync(new NATS.Client.ObjectStore.Models.ObjectMetadata { Name = "abandoned." + i }, new MemoryStream(new byte[10_000 + i]),
                cancellationToken: Token);
        Assert.Equal(Count, (await buckets.ListObjectsAsync(Token)).Count);

        var deadline = TestTimeouts.Token(TimeSpan.FromSeconds(90));
        var cutoff = DateTimeOffset.UtcNow + TimeSpan.FromMinutes(1);
        var sweeps = await Task.WhenAll(
            pair.ProviderOf(pair.A).SweepPartialUploadsAsync(cutoff, deadline).AsTask(),
            pair.ProviderOf(pair.B).SweepPartialUploadsAsync(cutoff, deadline).AsTask());

        Assert.False(deadline.IsCancellationRequested);
        Assert.InRange(sweeps.Sum(s => s.Deleted), Count, 2 * Count); // an object both sweeps reached counts twice
        Assert.Empty(await buckets.ListObjectsAsync(Token));
        for (var i = 0; i < Count; i++)
            await Assert.ThrowsAsync<NATS.Client.ObjectStore.NatsObjNotFoundException>(async () => await buckets.Data.GetInfoAsync("abandoned." + i, cancellationToken: Token));
        // A sweep of a bucket with nothing left finishes too, and finds nothing.
        Assert.Equal(0, (await pair.ProviderOf(pair.A).SweepPartialUploadsAsync(cutoff, deadline)).Deleted);
    }

    /// <summary>How many parts the upload in progress to <paramref name="path"/> has recorded, read from the cluster.</summary>
    private int StoredParts(NatsServerPair pair, string path)
    {
        using var cancel = new CancellationTokenSource(TestTimeouts.Default);
        var connection = new NATS.Client.Core.NatsConnection(new NATS.Client.Core.NatsOpts { Url = nats.Cluster.Url });
        try
        {
            var kv = new NATS.Client.KeyValueStore.NatsKVContext(new NATS.Client.JetStream.NatsJSContext(connection))
                .GetStoreAsync(pair.Options.MetaBucket, cancel.Token).AsTask().GetAwaiter().GetResult();
            var entry = kv.TryGetEntryAsync(NatsKeys.Upload(NatsKeys.Token("ana"), path), serializer: NATS.Client.Core.NatsRawSerializer<byte[]>.Default,
                cancellationToken: cancel.Token).AsTask().GetAwaiter().GetResult();
            if (!entry.Success || entry.Value.Value is not { Length: > 0 } value)
                return 0;
            return System.Text.Json.JsonSerializer.Deserialize(value, NatsJsonContext.Default.NatsUploadState)?.Parts.Count ?? 0;
        }
        finally
        {
            connection.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static async Task<List<string>> Tree(FerryClient client) =>
        (await client.ListAsync("", recursive: true, Token)).Select(e => e.Name).Order(StringComparer.Ordinal).ToList();
}
