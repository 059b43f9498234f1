using Ferry.Sync.Caching;
using Ferry.Sync.Chunking;
using Ferry.Testing;

namespace Ferry.Sync.Tests;

public class HashCacheTests : IDisposable
{
    private readonly TempDirectory _folder = new("ferry-sync-cache");

    public void Dispose() => _folder.Dispose();

    private string CachePath => _folder.Combine("hash-cache");

    private static FileIdentity Identity(ulong inode, long size = 1000) => new(Device: 2049, Inode: inode, Size: size, ModifiedNs: 1_700_000_000_123_456_789, ChangedNs: 1_700_000_001_000_000_001);

    private static FileDigest Digest(ulong inode, int chunkCount = 0)
    {
        if (chunkCount == 0)
            return new FileDigest(Identity(inode), new UInt128(inode, inode * 3), null, null);
        var chunks = Enumerable.Range(0, chunkCount).Select(i => new Chunk(i * 1000L, 1000, new ChunkId(new UInt128(inode, (ulong)i)))).ToArray();
        return new FileDigest(Identity(inode, chunkCount * 1000L), new UInt128(inode, 7), ChunkingParameters.ForAverageSize(1024), chunks);
    }

    [Fact]
    public void Any_change_of_size_or_times_is_a_miss_and_drops_the_stale_entry()
    {
        var stored = Digest(1);
        var cache = new HashCache();
        cache.Store(stored);
        var changes = new[]
        {
            stored.Identity with { Size = 1001 },
            stored.Identity with { ModifiedNs = stored.Identity.ModifiedNs + 1 },
            stored.Identity with { ChangedNs = stored.Identity.ChangedNs + 1 },
            stored.Identity with { Inode = 2 },
            stored.Identity with { Device = 2050 },
        };

        foreach (var changed in changes)
        {
            Assert.False(cache.TryGet(changed, out _), changed.ToString());
            cache.Store(stored);
        }
        Assert.True(cache.TryGet(stored.Identity, out var found));
        Assert.Same(stored, found);
        Assert.False(cache.TryGet(stored.Identity with { ChangedNs = 5 }, out _));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void The_least_recently_used_entry_goes_first()
    {
        var cache = new HashCache(new HashCacheLimits { MaxEntries = 3 });
        cache.Store(Digest(1));
        cache.Store(Digest(2));
        cache.Store(Digest(3));
        Assert.True(cache.TryGet(Identity(1), out _)); // 2 is now the least recently used

        cache.Store(Digest(4));

        Assert.Equal(3, cache.Count);
        Assert.False(cache.TryGet(Identity(2), out _));
        Assert.True(cache.TryGet(Identity(1), out _));
        Assert.True(cache.TryGet(Identity(3), out _));
    }

    [Fact]
    public void The_byte_bound_is_respected()
    {
        var perEntry = HashCacheFormat.EntrySize(Digest(1, chunkCount: 100));
        var cache = new HashCache(new HashCacheLimits { MaxBytes = perEntry * 5 + 10 });

        for (ulong inode = 1; inode <= 50; inode++)
        {
            cache.Store(Digest(inode, chunkCount: 100));
            Assert.True(cache.Bytes <= cache.Limits.MaxBytes);
        }
        cache.Store(Digest(99, chunkCount: 10_000)); // larger than the whole bound: not kept, evicts nothing

        Assert.Equal(5, cache.Count);
        Assert.False(cache.TryGet(Identity(99, 10_000_000), out _));
        Assert.True(cache.TryGet(Identity(50, 100_000), out _));
    }

    [Fact]
    public async Task Entries_and_their_order_survive_a_save_and_load()
    {
        var cache = await HashCache.LoadAsync(CachePath, new HashCacheLimits { MaxEntries = 3 });
        cache.Store(Digest(1, chunkCount: 3));
        cache.Store(Digest(2));
        cache.Store(Digest(3, chunkCount: 1));
        Assert.True(cache.TryGet(Identity(1, 3000), out _));
        await cache.SaveAsync();

        var loaded = await HashCache.LoadAsync(CachePath, new HashCacheLimits { MaxEntries = 3 });
        Assert.Equal(HashCacheLoadOutcome.Loaded, loaded.LoadOutcome);
        Assert.True(loaded.TryGet(Identity(3, 1000), out var third));
        Assert.Equal(Digest(3, chunkCount: 1).Chunks, third.Chunks);
        Assert.Equal(Digest(3, chunkCount: 1).ChunkParameters, third.ChunkParameters);
        Assert.Equal(Digest(3, chunkCount: 1).ContentHash, third.ContentHash);
        loaded.Store(Digest(4));

        // Order after load, oldest first: 2, 1, 3 (3 was just used); storing 4 evicts 2.
        Assert.False(loaded.TryGet(Identity(2), out _));
        Assert.True(loaded.TryGet(Identity(1, 3000), out var first));
        Assert.Equal(Digest(1, chunkCount: 3).Chunks, first.Chunks);
        Assert.Single(Directory.GetFiles(_folder.Path));
    }

    [Fact]
    public async Task The_cache_file_is_private_to_its_owner()
    {
        var cache = await HashCache.LoadAsync(CachePath);
        cache.Store(Digest(1));
        await cache.SaveAsync();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(CachePath));
    }

    [Fact]
    public async Task A_missing_file_or_folder_is_an_empty_cache()
    {
        var cache = await HashCache.LoadAsync(_folder.Combine("no", "such", "folder", "cache"));

        Assert.Equal(HashCacheLoadOutcome.Missing, cache.LoadOutcome);
        cache.Store(Digest(1));
        await cache.SaveAsync();
        Assert.Equal(HashCacheLoadOutcome.Loaded, (await HashCache.LoadAsync(_folder.Combine("no", "such", "folder", "cache"))).LoadOutcome);
    }

    [Fact]
    public async Task Every_truncation_or_damaged_byte_is_ignored_never_trusted()
    {
        var cache = await HashCache.LoadAsync(CachePath);
        cache.Store(Digest(1, chunkCount: 2));
        cache.Store(Digest(2));
        await cache.SaveAsync();
        var valid = await File.ReadAllBytesAsync(CachePath);

        for (var length = 0; length < valid.Length; length++)
        {
            await File.WriteAllBytesAsync(CachePath, valid[..length]);
            var loaded = await HashCache.LoadAsync(CachePath);
            Assert.Equal(HashCacheLoadOutcome.Ignored, loaded.LoadOutcome);
            Assert.Equal(0, loaded.Count);
        }
        for (var at = 0; at < valid.Length; at++)
        {
            var damaged = valid.ToArray();
            damaged[at] ^= 0x10;
            await File.WriteAllBytesAsync(CachePath, damaged);
            var loaded = await HashCache.LoadAsync(CachePath);
            Assert.Equal(HashCacheLoadOutcome.Ignored, loaded.LoadOutcome);
            Assert.Equal(0, loaded.Count);
        }
    }

    [Fact]
    public async Task An_ignored_file_is_replaced_at_the_next_save()
    {
        await File.WriteAllTextAsync(CachePath, "not a cache");
        var cache = await HashCache.LoadAsync(CachePath);

        await cache.SaveAsync();

        Assert.Equal(HashCacheLoadOutcome.Ignored, cache.LoadOutcome);
        Assert.Equal(HashCacheLoadOutcome.Loaded, (await HashCache.LoadAsync(CachePath)).LoadOutcome);
    }

    [Fact]
    public async Task A_file_too_large_for_the_limits_is_not_read()
    {
        await using (var huge = File.Create(CachePath))
            huge.SetLength(10 * 1024 * 1024);

        var cache = await HashCache.LoadAsync(CachePath, new HashCacheLimits { MaxBytes = 1024 * 1024 });

        Assert.Equal(HashCacheLoadOutcome.Ignored, cache.LoadOutcome);
    }

    [Fact]
    public async Task Concurrent_use_in_one_process_keeps_the_bounds()
    {
        var cache = new HashCache(new HashCacheLimits { MaxEntries = 100 });

        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(() =>
        {
            for (var i = 0; i < 2000; i++)
            {
                var inode = (ulong)(worker * 10_000 + i % 300);
                if (!cache.TryGet(Identity(inode), out _))
                    cache.Store(Digest(inode));
            }
        })));

        Assert.Equal(100, cache.Count);
        Assert.Equal(100 * HashCacheFormat.EntrySize(Digest(1)), cache.Bytes);
    }

    [Fact]
    public async Task Two_writers_at_once_leave_one_whole_cache()
    {
        // Two processes are two caches on the same path: each saves repeatedly while the other does.
        var first = await HashCache.LoadAsync(CachePath);
        var second = await HashCache.LoadAsync(CachePath);

        await Task.WhenAll(
            Task.Run(async () =>
            {
                for (ulong i = 1; i <= 30; i++) { first.Store(Digest(i, chunkCount: 50)); await first.SaveAsync(); }
            }),
            Task.Run(async () =>
            {
                for (ulong i = 1001; i <= 1030; i++) { second.Store(Digest(i)); await second.SaveAsync(); }
            }));

        var loaded = await HashCache.LoadAsync(CachePath);
        Assert.Equal(HashCacheLoadOutcome.Loaded, loaded.LoadOutcome);
        Assert.Equal(30, loaded.Count);
        var fromFirst = loaded.TryGet(Identity(30, 50_000), out _);
        var fromSecond = loaded.TryGet(Identity(1030), out _);
        Assert.True(fromFirst ^ fromSecond);
        Assert.Single(Directory.GetFiles(_folder.Path));
    }
}
