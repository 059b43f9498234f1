using Ferry.Client;
using Ferry.Client.Sync;
using Ferry.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Ferry.IntegrationTests.Sync;

/// <summary>
/// Delta pushes and pulls through <see cref="RemoteTree"/> with chunk groups (docs/protocol.md §5.9.6) on both sides,
/// and with a peer from before them on either side, which keeps the one-level chunk list.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class ChunkGroupInteropTests
{
    private const int MiB = 1024 * 1024;
    private const long ThenNs = 1_600_000_000_123_456_700;

    private static CancellationToken Token => TestTimeouts.Token();

    public enum Peers { BothGrouped, OldClient, OldServer }

    /// <summary>A server as it was before chunk groups: no put_chunks, so no chunk_groups feature either.</summary>
    private static Task<TestServer> StartAsync(Peers peers) => peers == Peers.OldServer
        ? TestServer.StartAsync(replace: services =>
        {
            var grouped = services.Where(d => d.ImplementationType?.Name == "PutChunksHandler").ToList();
            Assert.Single(grouped);
            foreach (var descriptor in grouped)
                services.Remove(descriptor);
        })
        : TestServer.StartAsync();

    private static byte[] Random(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static byte[] Insert(byte[] data, int at, byte[] inserted) => [.. data.AsSpan(0, at), .. inserted, .. data.AsSpan(at)];

    [Theory]
    [InlineData(Peers.BothGrouped)]
    [InlineData(Peers.OldClient)]
    [InlineData(Peers.OldServer)]
    public async Task An_edited_file_goes_as_a_delta_both_ways_whichever_side_knows_chunk_groups(Peers peers)
    {
        await using var server = await StartAsync(peers);
        await using var client = await server.ConnectAsync();
        client.ChunkGroupsEnabled = peers != Peers.OldClient;
        Assert.Equal(peers == Peers.BothGrouped, client.UsesChunkGroups);
        using var local = new TempDirectory();
        var tree = new RemoteTree(client);

        // Push: the server holds the old version, the client an insertion into it.
        var old = Random(6 * MiB, 51);
        await File.WriteAllBytesAsync(Path.Combine(server.Root, "up.bin"), old);
        var fresh = Insert(old, 3 * MiB + 777, Random(20_000, 52));
        await File.WriteAllBytesAsync(local.Combine("up.bin"), fresh);
        var pushed = Assert.Single(await tree.PushFilesAsync(
            [new FilePush(local.Combine("up.bin"), "up.bin", fresh.Length, 0x1A4, ThenNs, ["up.bin"], old.Length)], new FileSyncOptions(), new NullObserver(), Token));
        Assert.True(pushed.Succeeded, pushed.ErrorMessage);
        Assert.True(pushed.Delta);
        Assert.InRange(pushed.BytesSent, 20_000, 200_000);
        Assert.Equal(fresh, await File.ReadAllBytesAsync(Path.Combine(server.Root, "up.bin")));

        // Pull: the other way round.
        var remote = Insert(old, MiB + 5, Random(30_000, 53));
        await File.WriteAllBytesAsync(Path.Combine(server.Root, "down.bin"), remote);
        await File.WriteAllBytesAsync(local.Combine("down.bin"), old);
        var pulled = Assert.Single(await tree.PullFilesAsync(
            [new FilePull("down.bin", local.Combine("down.bin"), remote.Length, 0x1A4, ThenNs, [local.Combine("down.bin")], old.Length)],
            new FileSyncOptions(), new NullObserver(), Token));
        Assert.True(pulled.Succeeded, pulled.ErrorMessage);
        Assert.True(pulled.Delta);
        Assert.InRange(pulled.BytesSent, 30_000, 200_000);
        Assert.Equal(remote, await File.ReadAllBytesAsync(local.Combine("down.bin")));
        Assert.False(client.IsBroken);
    }

    [Fact]
    public async Task A_touched_file_of_unchanged_content_is_pushed_as_its_time_alone()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        var data = Random(3 * MiB, 54);
        var remotePath = Path.Combine(server.Root, "same.bin");
        await File.WriteAllBytesAsync(remotePath, data);
        Assert.True(Ferry.Sync.Caching.FileStat.TryGetRegularFile(remotePath, out var before));
        await File.WriteAllBytesAsync(local.Combine("same.bin"), data);
        // And one of the same size whose content did change: it still goes as a delta.
        var changedRemote = Random(3 * MiB, 55);
        await File.WriteAllBytesAsync(Path.Combine(server.Root, "changed.bin"), changedRemote);
        var changed = (byte[])changedRemote.Clone();
        changed[MiB] ^= 0xFF;
        await File.WriteAllBytesAsync(local.Combine("changed.bin"), changed);

        var outcomes = await new RemoteTree(client).PushFilesAsync(
            [new FilePush(local.Combine("same.bin"), "same.bin", data.Length, 0x180, ThenNs, ["same.bin"], data.Length),
             new FilePush(local.Combine("changed.bin"), "changed.bin", changed.Length, 0x1A4, ThenNs, ["changed.bin"], changed.Length)],
            new FileSyncOptions(), new NullObserver(), Token);

        Assert.Equal(["same.bin", "changed.bin"], outcomes.Select(o => o.Path));
        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.ErrorMessage));
        Assert.Equal((0L, (long)data.Length), (outcomes[0].BytesSent, outcomes[0].BytesReused));
        Assert.InRange(outcomes[1].BytesSent, 1, 200_000);
        Assert.True(Ferry.Sync.Caching.FileStat.TryGetRegularFile(remotePath, out var after));
        Assert.Equal(before.Inode, after.Inode); // not rewritten
        Assert.Equal(ThenNs / 100, (File.GetLastWriteTimeUtc(remotePath) - DateTime.UnixEpoch).Ticks);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(remotePath));
        Assert.Equal(changed, await File.ReadAllBytesAsync(Path.Combine(server.Root, "changed.bin")));
    }

    [Fact]
    public async Task A_touched_file_of_unchanged_content_is_pulled_as_its_time_alone()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        var data = Random(3 * MiB, 56);
        await File.WriteAllBytesAsync(Path.Combine(server.Root, "same.bin"), data);
        var localPath = local.Combine("same.bin");
        await File.WriteAllBytesAsync(localPath, data);
        Assert.True(Ferry.Sync.Caching.FileStat.TryGetRegularFile(localPath, out var before));
        // And one of the same size whose content did change: it still comes as a delta, and is rewritten.
        var changedRemote = Random(3 * MiB, 57);
        await File.WriteAllBytesAsync(Path.Combine(server.Root, "changed.bin"), changedRemote);
        var changed = (byte[])changedRemote.Clone();
        changed[MiB] ^= 0xFF;
        await File.WriteAllBytesAsync(local.Combine("changed.bin"), changed);

        var outcomes = await new RemoteTree(client).PullFilesAsync(
            [new FilePull("same.bin", localPath, data.Length, 0x180, ThenNs, [localPath], data.Length),
             new FilePull("changed.bin", local.Combine("changed.bin"), changed.Length, 0x1A4, ThenNs, [local.Combine("changed.bin")], changed.Length)],
            new FileSyncOptions(), new NullObserver(), Token);

        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.ErrorMessage));
        Assert.Equal((0L, (long)data.Length), (outcomes[0].BytesSent, outcomes[0].BytesReused));
        Assert.InRange(outcomes[1].BytesSent, 1, 200_000);
        Assert.True(Ferry.Sync.Caching.FileStat.TryGetRegularFile(localPath, out var after));
        Assert.Equal(before.Inode, after.Inode); // set in place, not rewritten
        Assert.Equal(ThenNs / 100, (File.GetLastWriteTimeUtc(localPath) - DateTime.UnixEpoch).Ticks);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(localPath));
        Assert.Equal(data, await File.ReadAllBytesAsync(localPath));
        Assert.Equal(changedRemote, await File.ReadAllBytesAsync(local.Combine("changed.bin")));
        Assert.False(client.IsBroken);
    }

    private sealed class NullObserver : IFileSyncObserver
    {
        public void FileFinished(FileSyncOutcome outcome) { }
        public void DataMoved(long bytes) { }
    }
}
