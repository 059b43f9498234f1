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

    private sealed class NullObserver : IFileSyncObserver
    {
        public void FileFinished(FileSyncOutcome outcome) { }
        public void DataMoved(long bytes) { }
    }
}
