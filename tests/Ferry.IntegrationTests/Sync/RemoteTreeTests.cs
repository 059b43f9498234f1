using System.Collections.Concurrent;
using Ferry.Client;
using Ferry.Client.Sync;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;
using Ferry.Testing;

namespace Ferry.IntegrationTests.Sync;

/// <summary>The client's <see cref="RemoteTree"/> against the real server (docs/protocol.md §5.9).</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class RemoteTreeTests
{
    private const int KiB = 1024, MiB = 1024 * 1024;
    private const long ThenNs = 1_600_000_000_123_456_700; // a multiple of 100 ns, which .NET times carry
    private static readonly DateTime Then = DateTime.UnixEpoch.AddTicks(ThenNs / 100);

    private static CancellationToken Token => TestTimeouts.Token();

    [Fact]
    public async Task Scan_mkdir_setattr_symlink_and_rm_work_and_a_missing_path_scans_as_null()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        var tree = new RemoteTree(client);

        Assert.Null(await tree.ScanAsync("nothing/here", hashes: false, Token));
        await tree.MakeDirectoryAsync("a/b/c", Token);
        await tree.MakeDirectoryAsync("a/b/c", Token); // an existing folder is fine
        await File.WriteAllTextAsync(Path.Combine(server.Root, "a", "f.txt"), "hello");
        await tree.SetAttributesAsync("a/f.txt", 0x1A0 /* 0640 */, ThenNs, Token);
        await tree.CreateSymlinkAsync("a/l", "f.txt", Token);

        var entries = await tree.ScanAsync("a", hashes: true, Token);

        Assert.NotNull(entries);
        var file = Assert.Single(entries, e => e.Name == "f.txt");
        Assert.Equal(ScanEntryTypes.File, file.Type);
        Assert.Equal(0x1A0, file.Mode);
        Assert.Equal(ThenNs, file.ModifiedNs);
        Assert.Equal(Convert.ToHexStringLower(System.IO.Hashing.XxHash128.Hash("hello"u8)), file.Hash);
        Assert.Equal("f.txt", Assert.Single(entries, e => e.Name == "l").Target);
        Assert.Contains(entries, e => e.Name == "b/c" && e.Type == ScanEntryTypes.Directory);

        await tree.RemoveAsync("a/b", recursive: true, Token);
        Assert.False(Directory.Exists(Path.Combine(server.Root, "a", "b")));
        Assert.False(client.IsBroken);
    }

    [Theory]
    [InlineData(10_000, "", "0-4096,4096-8192,8192-10000")] // small whole files: 4096 per window
    [InlineData(600, "all", "0-256,256-512,512-600")] // files that may carry a chunk list: 256 per window
    [InlineData(400, "0-249", "0-346,346-400")] // 250 heavy cost 4000 of 4096, then 96 small ones fit
    public void A_window_holds_256_files_that_may_carry_a_chunk_list_or_4096_small_whole_ones(int count, string heavy, string expected)
    {
        bool IsHeavy(int i) => heavy switch
        {
            "" => false,
            "all" => true,
            _ => i >= int.Parse(heavy.Split('-')[0]) && i <= int.Parse(heavy.Split('-')[1]),
        };
        var windows = new List<string>();
        for (int first = 0, end; first < count; first = end)
        {
            end = RemoteTree.WindowEnd(count, first, i => !IsHeavy(i));
            Assert.True(end > first);
            windows.Add($"{first}-{end}");
        }
        Assert.Equal(expected, string.Join(",", windows));
    }

    [Fact]
    public async Task Whole_files_are_pushed_pipelined_with_their_mode_and_nanosecond_time()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        var pushes = Enumerable.Range(0, 300).Select(i =>
        {
            var path = local.Combine($"f{i}.txt");
            File.WriteAllText(path, $"file {i}");
            return new FilePush(path, $"d/f{i}.txt", new FileInfo(path).Length, 0x1A0, ThenNs + i * 100, [], 0);
        }).ToList();
        Directory.CreateDirectory(Path.Combine(server.Root, "d"));
        var observer = new Collector();

        var outcomes = await new RemoteTree(client).PushFilesAsync(pushes, new FileSyncOptions(), observer, Token);

        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.ErrorMessage));
        Assert.Equal(pushes.Select(p => p.RemotePath), outcomes.Select(o => o.Path));
        Assert.Equal(300, observer.Finished.Count);
        Assert.Equal(pushes.Sum(p => p.Size), observer.Moved);
        for (var i = 0; i < 300; i += 37)
        {
            var remote = Path.Combine(server.Root, "d", $"f{i}.txt");
            Assert.Equal($"file {i}", File.ReadAllText(remote));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(remote));
            Assert.Equal(Then.AddTicks(i), File.GetLastWriteTimeUtc(remote));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_changed_large_file_is_pushed_as_a_delta_that_sends_only_what_changed(bool compress)
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        var old = Content(4 * MiB, seed: 1, compressible: compress);
        await File.WriteAllBytesAsync(Path.Combine(server.Root, "big.bin"), old);
        var changed = Edit(old, at: 2 * MiB, length: 3000, seed: 2);
        var path = local.Combine("big.bin");
        await File.WriteAllBytesAsync(path, changed);
        var observer = new Collector();

        var outcome = Assert.Single(await new RemoteTree(client).PushFilesAsync(
            [new FilePush(path, "big.bin", changed.Length, 0x1A4, ThenNs, ["big.bin"], old.Length)],
            new FileSyncOptions { Compress = compress }, observer, Token));

        Assert.True(outcome.Succeeded, outcome.ErrorMessage);
        Assert.True(outcome.Delta);
        Assert.True(outcome.BytesSent < 512 * KiB, $"sent {outcome.BytesSent} bytes for a 3000-byte edit");
        Assert.True(outcome.BytesReused > 3 * MiB, $"reused {outcome.BytesReused}");
        Assert.True(observer.Moved < 512 * KiB, $"progress counted {observer.Moved} bytes");
        Assert.Equal(changed, await File.ReadAllBytesAsync(Path.Combine(server.Root, "big.bin")));
        Assert.Equal(Then, File.GetLastWriteTimeUtc(Path.Combine(server.Root, "big.bin")));
    }

    [Fact]
    public async Task Compressed_pushes_and_pulls_move_fewer_bytes_than_the_files_hold()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        var data = Content(3 * MiB + 11, seed: 3, compressible: true);
        await File.WriteAllBytesAsync(local.Combine("text.bin"), data);
        var tree = new RemoteTree(client);
        var options = new FileSyncOptions { Compress = true };

        var pushed = Assert.Single(await tree.PushFilesAsync([new FilePush(local.Combine("text.bin"), "text.bin", data.Length, 0x1A4, ThenNs, [], 0)], options, new Collector(), Token));
        var pulled = Assert.Single(await tree.PullFilesAsync([new FilePull("text.bin", local.Combine("back.bin"), data.Length, 0x180, ThenNs, [], 0)], options, new Collector(), Token));

        Assert.True(pushed.Succeeded && pulled.Succeeded, pushed.ErrorMessage + pulled.ErrorMessage);
        Assert.True(pushed.BytesSent < data.Length / 2, $"pushed {pushed.BytesSent}");
        Assert.True(pulled.BytesSent < data.Length / 2, $"pulled {pulled.BytesSent}");
        Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(server.Root, "text.bin")));
        Assert.Equal(data, await File.ReadAllBytesAsync(local.Combine("back.bin")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(local.Combine("back.bin")));
        Assert.Equal(Then, File.GetLastWriteTimeUtc(local.Combine("back.bin")));
    }

    [Fact]
    public async Task A_file_a_delta_put_committed_is_chunked_into_the_servers_hash_cache_for_its_next_sync()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        var old = Content(3 * MiB, seed: 21, compressible: false);
        await File.WriteAllBytesAsync(Path.Combine(server.Root, "big.bin"), old);
        var changed = Edit(old, at: MiB, length: 7000, seed: 22);
        var path = local.Combine("big.bin");
        await File.WriteAllBytesAsync(path, changed);

        var outcome = Assert.Single(await new RemoteTree(client).PushFilesAsync(
            [new FilePush(path, "big.bin", changed.Length, 0x1A4, ThenNs, ["big.bin"], old.Length)], new FileSyncOptions(), new Collector(), Token));
        Assert.True(outcome.Succeeded && outcome.Delta, outcome.ErrorMessage);

        // Not at once (its change time is the commit's, inside the racy window) but a little later, by itself: the saved
        // cache then knows the committed file (its identity now) with the new content's hash and chunks cut as the push cut.
        using var committedFile = File.OpenHandle(Path.Combine(server.Root, "big.bin"));
        var committed = Ferry.Sync.Caching.FileStat.Get(committedFile);
        var chunking = Ferry.Sync.Chunking.ChunkingParameters.ForFileLength(changed.Length);
        var cache = await SavedCacheHoldingAsync(server, committed, "the committed file in the server's saved hash cache");
        Assert.True(cache.TryGet(committed, out var cached));
        Assert.Equal(System.IO.Hashing.XxHash128.HashToUInt128(changed), cached!.ContentHash);
        Assert.True(cached.HasChunksFor(chunking));
        Assert.Equal(new Ferry.Sync.Chunking.FastCdcChunker(chunking).Chunk(changed), cached.Chunks);
    }

    [Fact]
    public async Task A_committed_file_replaced_before_its_turn_is_not_chunked_into_the_servers_hash_cache()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        var tree = new RemoteTree(client);
        async Task PushDeltaAsync(string name, int seed)
        {
            var old = Content(MiB, seed, compressible: false);
            await File.WriteAllBytesAsync(Path.Combine(server.Root, name), old);
            var changed = Edit(old, at: 300 * KiB, length: 5000, seed: seed + 1);
            await File.WriteAllBytesAsync(local.Combine(name), changed);
            var outcome = Assert.Single(await tree.PushFilesAsync(
                [new FilePush(local.Combine(name), name, changed.Length, 0x1A4, ThenNs, [name], old.Length)], new FileSyncOptions(), new Collector(), Token));
            Assert.True(outcome.Succeeded && outcome.Delta, outcome.ErrorMessage);
        }

        await PushDeltaAsync("a.bin", 31);
        // Replaced at once by another file (another size): by the time a.bin's turn comes, this file's times are old
        // enough to be cached, but it is not the file the sync wrote.
        var replacement = Path.Combine(server.Root, "a.bin");
        File.Delete(replacement);
        await File.WriteAllBytesAsync(replacement, Content(MiB + 1, seed: 33, compressible: false));
        File.SetLastWriteTimeUtc(replacement, Then);
        await PushDeltaAsync("b.bin", 35);

        // One file at a time, in order: once b.bin is in the saved cache, a.bin's turn has passed.
        using var a = File.OpenHandle(replacement);
        using var b = File.OpenHandle(Path.Combine(server.Root, "b.bin"));
        var (aIdentity, bIdentity) = (Ferry.Sync.Caching.FileStat.Get(a), Ferry.Sync.Caching.FileStat.Get(b));
        var saved = await SavedCacheHoldingAsync(server, bIdentity, "b.bin in the server's saved hash cache");
        Assert.False(saved.TryGet(aIdentity, out _));
    }

    /// <summary>The server's saved hash cache, once one holds <paramref name="identity"/> (waited for with a deadline).</summary>
    private static async Task<Ferry.Sync.Caching.HashCache> SavedCacheHoldingAsync(TestServer server, Ferry.Sync.Caching.FileIdentity identity, string what)
    {
        var cacheFolder = Path.Combine(server.Options.StateDirectory, "hash-cache");
        Ferry.Sync.Caching.HashCache? saved = null;
        await Eventually.UntilAsync(async () =>
        {
            foreach (var file in Directory.Exists(cacheFolder) ? Directory.GetFiles(cacheFolder, "*.cache") : [])
            {
                var cache = await Ferry.Sync.Caching.HashCache.LoadAsync(file);
                if (cache.TryGet(identity, out _))
                    saved = cache;
            }
            return saved is not null;
        }, what, TimeSpan.FromSeconds(30));
        return saved!;
    }

    [Fact]
    public async Task A_changed_large_file_is_pulled_as_a_delta_against_the_local_old_version()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        var old = Content(5 * MiB, seed: 4, compressible: false);
        var path = local.Combine("big.bin");
        await File.WriteAllBytesAsync(path, old);
        var changed = Edit(old, at: MiB, length: 5000, seed: 5);
        await File.WriteAllBytesAsync(Path.Combine(server.Root, "big.bin"), changed);
        var observer = new Collector();

        var outcome = Assert.Single(await new RemoteTree(client).PullFilesAsync(
            [new FilePull("big.bin", path, changed.Length, 0x1A4, ThenNs, [path], old.Length)], new FileSyncOptions(), observer, Token));

        Assert.True(outcome.Succeeded, outcome.ErrorMessage);
        Assert.True(outcome.Delta);
        Assert.True(outcome.BytesSent < 512 * KiB, $"received {outcome.BytesSent} bytes for a 5000-byte edit");
        Assert.True(outcome.BytesReused > 4 * MiB);
        Assert.Equal(changed, await File.ReadAllBytesAsync(path));
        Assert.Equal(Then, File.GetLastWriteTimeUtc(path));
        Assert.Equal([Path.GetFileName(path)], Directory.GetFiles(local.Path).Select(Path.GetFileName));
        Assert.Single(observer.Finished);
    }

    [Fact]
    public async Task A_local_basis_overwritten_during_a_delta_pull_is_caught_by_the_check_and_the_file_comes_whole()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        var old = Content(5 * MiB, seed: 14, compressible: false);
        var basis = local.Combine("old.bin");
        await File.WriteAllBytesAsync(basis, old);
        var changed = Edit(Edit(old, at: MiB, length: 5000, seed: 15), at: 4 * MiB, length: 5000, seed: 16);
        await File.WriteAllBytesAsync(Path.Combine(server.Root, "new.bin"), changed);
        // While the first changed range arrives, the middle of the basis is overwritten in place: the copies made after
        // that range read the new bytes, so the file assembled is not the server's and must not pass the check.
        var overwritten = 0;
        var observer = new Collector
        {
            OnDataMoved = () =>
            {
                if (Interlocked.Exchange(ref overwritten, 1) == 0)
                {
                    using var file = new FileStream(basis, FileMode.Open, FileAccess.Write);
                    file.Position = 2 * MiB;
                    file.Write(Content(MiB, seed: 17, compressible: false));
                }
            },
        };

        var outcome = Assert.Single(await new RemoteTree(client).PullFilesAsync(
            [new FilePull("new.bin", local.Combine("new.bin"), changed.Length, 0x1A4, ThenNs, [basis], old.Length)], new FileSyncOptions(), observer, Token));

        Assert.Equal(1, overwritten);
        Assert.True(outcome.Succeeded, outcome.ErrorMessage);
        Assert.False(outcome.Delta);
        Assert.Equal(changed, await File.ReadAllBytesAsync(local.Combine("new.bin")));
    }

    [Fact]
    public async Task A_file_that_changed_since_the_scan_fails_alone_and_the_others_arrive()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        await File.WriteAllTextAsync(local.Combine("a.txt"), "aaa");
        await File.WriteAllTextAsync(local.Combine("b.txt"), "now longer than scanned");
        await File.WriteAllTextAsync(local.Combine("c.txt"), "ccc");

        var outcomes = await new RemoteTree(client).PushFilesAsync(
        [
            new FilePush(local.Combine("a.txt"), "a.txt", 3, 0x1A4, ThenNs, [], 0),
            new FilePush(local.Combine("b.txt"), "b.txt", 3, 0x1A4, ThenNs, [], 0),
            new FilePush(local.Combine("missing.txt"), "m.txt", 3, 0x1A4, ThenNs, [], 0),
            new FilePush(local.Combine("c.txt"), "c.txt", 3, 0x1A4, ThenNs, [], 0),
        ], new FileSyncOptions(), new Collector(), Token);

        Assert.Equal([true, false, false, true], outcomes.Select(o => o.Succeeded));
        Assert.False(File.Exists(Path.Combine(server.Root, "b.txt")));
        Assert.Equal("ccc", File.ReadAllText(Path.Combine(server.Root, "c.txt")));
        Assert.False(client.IsBroken);
    }

    [Fact]
    public async Task A_pull_whose_local_folder_is_missing_fails_alone()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        await File.WriteAllTextAsync(Path.Combine(server.Root, "x.txt"), "x");

        var outcomes = await new RemoteTree(client).PullFilesAsync(
        [
            new FilePull("x.txt", local.Combine("no", "x.txt"), 1, 0x1A4, ThenNs, [], 0),
            new FilePull("x.txt", local.Combine("x.txt"), 1, 0x1A4, ThenNs, [], 0),
            new FilePull("gone.txt", local.Combine("gone.txt"), 1, 0x1A4, ThenNs, [], 0),
        ], new FileSyncOptions(), new Collector(), Token);

        Assert.Equal([false, true, false], outcomes.Select(o => o.Succeeded));
        Assert.Equal("not_found", outcomes[2].ErrorCode);
        Assert.Equal("x", File.ReadAllText(local.Combine("x.txt")));
        Assert.False(File.Exists(local.Combine("gone.txt")));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_interrupted_pull_leaves_nothing_under_the_final_name(bool delta)
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var old = Content(8 * MiB, seed: 6, compressible: false);
        var changed = Content(8 * MiB, seed: 7, compressible: false); // nothing in common: every range moves
        await File.WriteAllBytesAsync(Path.Combine(server.Root, "big.bin"), changed);
        var path = local.Combine("big.bin");
        var basis = local.Combine("old.bin");
        await File.WriteAllBytesAsync(basis, old);
        var relay = LoopbackRelay.Start(server.EndPoint, downstreamBudget: 2 * MiB);
        await using var client = await FerryClient.ConnectAsync(new ServerAddress("127.0.0.1", relay.EndPoint.Port), new FerryClientOptions { UseTls = false }, Token);

        var pull = new RemoteTree(client).PullFilesAsync(
            [new FilePull("big.bin", path, changed.Length, 0x1A4, ThenNs, delta ? [basis] : [], delta ? old.Length : 0)], new FileSyncOptions(), new Collector(), Token);
        await relay.Held.WaitAsync(Token);
        await relay.DisposeAsync();

        await Assert.ThrowsAnyAsync<Exception>(() => pull);
        Assert.True(client.IsBroken);
        Assert.False(File.Exists(path));
        Assert.Equal(old, await File.ReadAllBytesAsync(basis));
    }

    [Fact]
    public async Task A_bandwidth_limit_holds_a_push_to_its_rate()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        var data = Content(768 * KiB, seed: 8, compressible: false);
        await File.WriteAllBytesAsync(local.Combine("r.bin"), data);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();

        var outcome = Assert.Single(await new RemoteTree(client).PushFilesAsync([new FilePush(local.Combine("r.bin"), "r.bin", data.Length, 0x1A4, ThenNs, [], 0)],
            new FileSyncOptions { BandwidthLimit = MiB }, new Collector(), Token));

        Assert.True(outcome.Succeeded, outcome.ErrorMessage);
        // 768 KiB at 1 MiB/s with a quarter second of burst: at least half a second.
        Assert.True(System.Diagnostics.Stopwatch.GetElapsedTime(started) >= TimeSpan.FromSeconds(0.45));
    }

    private static byte[] Content(int size, int seed, bool compressible)
    {
        var data = new byte[size];
        var random = new Random(seed);
        if (!compressible)
        {
            random.NextBytes(data);
            return data;
        }
        var words = new[] { "ferry ", "sync ", "chunk ", "delta ", "river ", "boat ", "\n" };
        for (var i = 0; i < size;)
        {
            var word = words[random.Next(words.Length)];
            for (var j = 0; j < word.Length && i < size; j++)
                data[i++] = (byte)word[j];
        }
        return data;
    }

    private static byte[] Edit(byte[] original, int at, int length, int seed)
    {
        var copy = (byte[])original.Clone();
        new Random(seed).NextBytes(copy.AsSpan(at, length));
        return copy;
    }

    private sealed class Collector : IFileSyncObserver
    {
        private long _moved;
        public long Moved => Interlocked.Read(ref _moved);
        public ConcurrentQueue<FileSyncOutcome> Finished { get; } = new();
        public Action? OnDataMoved { get; init; }

        public void DataMoved(long bytes)
        {
            Interlocked.Add(ref _moved, bytes);
            OnDataMoved?.Invoke();
        }

        public void FileFinished(FileSyncOutcome outcome) => Finished.Enqueue(outcome);
    }
}
