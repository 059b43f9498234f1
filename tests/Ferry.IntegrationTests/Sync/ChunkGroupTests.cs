using System.Text.Json;
using Ferry.Protocol.Messages;
using Ferry.Sync.Chunking;
using Ferry.Sync.Delta;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests.Sync;

/// <summary>
/// Two-level delta transfers (docs/protocol.md §5.9.6) at the frame level: a put's group list, put_groups, put_chunks;
/// chunks with groups and pick; and every lie the server must refuse, each leaving the connection usable and the
/// file untouched.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class ChunkGroupTests : SyncWireTest
{
    private const int Avg = 1024;

    private static IReadOnlyList<Chunk> ChunksOf(byte[] data) => new FastCdcChunker(ChunkingParameters.ForAverageSize(Avg)).Chunk(data);

    private static byte[] Insert(byte[] data, int at, byte[] inserted) => [.. data.AsSpan(0, at), .. inserted, .. data.AsSpan(at)];

    /// <summary>The chunk-list body of the chunks of <paramref name="groups"/> picked by <paramref name="indices"/>, offsets from 0.</summary>
    private static byte[] ChunksOfGroups(IReadOnlyList<Chunk> chunks, List<ChunkGroup> groups, IEnumerable<int> indices)
    {
        var picked = new List<Chunk>();
        foreach (var i in indices)
            for (var k = 0; k < groups[i].ChunkCount; k++)
                picked.Add(chunks[groups[i].FirstChunk + k] with { Offset = picked.Count == 0 ? 0 : picked[^1].End });
        return ChunkListCodec.Encode(new ChunkList(picked, ChunkIdWidth.Bits64));
    }

    /// <summary>Sends a two-level put; returns the groups the server lacks (or null and the reply's code).</summary>
    private async Task<(int[]? Missing, string Reply)> OpenAsync(string path, long size, byte[] groupList, int declaredGroups, string[] basis)
    {
        await Peer.SendAsync(new
        {
            cmd = "put", id = 1, path, size, force = true, basis, avg = Avg, groups = declaredGroups, bodysize = groupList.Length,
        }, groupList);
        var frame = await Peer.ReadAsync();
        if (frame.Command != "put_groups")
            return (null, frame.Command == "error" ? JsonDocument.Parse(frame.Json).RootElement.GetProperty("code").GetString()! : frame.Command);
        var answer = JsonSerializer.Deserialize(frame.Json, FerryJsonContext.Default.PutGroupsMessage)!;
        return (ChunkGroups.DecodeIndices(frame.Body, answer.Need, declaredGroups), "put_groups");
    }

    private async Task<string> PutChunksAsync(long id, byte[] body, bool expectReply = true)
    {
        await Peer.SendAsync(new { cmd = "put_chunks", id, bodysize = body.Length }, body);
        return expectReply ? await Peer.ReadCodeAsync() : "";
    }

    /// <summary>A chunks request with a body of group indices, its bodysize declared.</summary>
    private Task<string> PickAsync(string? hash, int pick, byte[] body, bool? groups = null) =>
        Peer.AskAsync(new { cmd = "chunks", id = 7, path = "p.bin", avg = Avg, groups, hash, pick, bodysize = body.Length }, body);

    private async Task<string> PingAsync() => await Peer.AskAsync(new { cmd = "echo" }) == "echo" ? "pong" : "no echo";

    /// <summary>An old file on the server and a new version with 3000 bytes inserted in its middle.</summary>
    private async Task<(byte[] Old, byte[] Fresh, IReadOnlyList<Chunk> Chunks, List<ChunkGroup> Groups)> EditedFileAsync(string name)
    {
        var old = RandomBytes(400_000, 41);
        await File.WriteAllBytesAsync(Root(name), old);
        var fresh = Insert(old, 200_000, RandomBytes(3000, 42));
        var chunks = ChunksOf(fresh);
        return (old, fresh, chunks, ChunkGroups.Split(chunks));
    }

    [Fact]
    public async Task The_server_advertises_chunk_groups_and_asks_only_for_the_groups_an_insertion_touched()
    {
        Assert.Contains("chunk_groups", Peer.Features);
        Assert.Contains("put_chunks", Peer.Features);
        var (_, fresh, chunks, groups) = await EditedFileAsync("f.bin");
        Assert.InRange(groups.Count, 10, 60);

        var (missing, reply) = await OpenAsync("f.bin", fresh.Length, ChunkGroups.Encode(groups), groups.Count, ["f.bin"]);
        Assert.True(missing is not null, reply);
        Assert.InRange(missing.Length, 1, 3);

        await PutChunksAsync(1, ChunksOfGroups(chunks, groups, missing), expectReply: false);
        var ready = await Peer.ReadAsync();
        Assert.Equal("put_ready", ready.Command);
        var needed = DeltaPutTests.Ranges(ready.Body);
        long sent = 0;
        foreach (var (offset, length) in needed)
        {
            await Peer.SendAsync(new { cmd = "put_data", id = 1, offset, bodysize = length }, fresh.AsMemory((int)offset, (int)length));
            sent += length;
        }
        await Peer.SendAsync(new { cmd = "put_end", id = 1, hash = Hex(fresh) });
        Assert.Equal("done", await Peer.ReadCodeAsync());
        Assert.InRange(sent, 3000, 12_000);
        Assert.Equal(fresh, await File.ReadAllBytesAsync(Root("f.bin")));
    }

    [Fact]
    public async Task The_current_content_under_a_new_time_asks_for_no_group_and_sets_only_the_time()
    {
        var data = RandomBytes(300_000, 43);
        await File.WriteAllBytesAsync(Root("same.bin"), data);
        Assert.True(Ferry.Sync.Caching.FileStat.TryGetRegularFile(Root("same.bin"), out var before));
        var groups = ChunkGroups.Split(ChunksOf(data));

        var (missing, reply) = await OpenAsync("same.bin", data.Length, ChunkGroups.Encode(groups), groups.Count, ["same.bin"]);
        Assert.Equal("put_groups", reply);
        Assert.Empty(missing!);
        Assert.Equal("put_ready", await PutChunksAsync(1, ChunksOfGroups([], [], [])));
        Assert.Equal("done", await Peer.AskAsync(new { cmd = "put_end", id = 1, hash = Hex(data) }));

        Assert.True(Ferry.Sync.Caching.FileStat.TryGetRegularFile(Root("same.bin"), out var after));
        Assert.Equal(before.Inode, after.Inode);
    }

    [Fact]
    public async Task A_basis_that_changes_between_the_put_and_its_chunks_is_a_checksum_mismatch_and_is_left_alone()
    {
        var (old, fresh, chunks, groups) = await EditedFileAsync("f.bin");
        var (missing, reply) = await OpenAsync("f.bin", fresh.Length, ChunkGroups.Encode(groups), groups.Count, ["f.bin"]);
        Assert.True(missing is not null, reply);

        // Another writer replaces the basis after the server chose the groups it lacks from it.
        var replaced = RandomBytes(old.Length, 45);
        await File.WriteAllBytesAsync(Root("f.bin"), replaced);
        File.SetLastWriteTimeUtc(Root("f.bin"), DateTime.UtcNow.AddMinutes(5));

        Assert.Equal("checksum_mismatch", await PutChunksAsync(1, ChunksOfGroups(chunks, groups, missing)));
        Assert.Equal(replaced, await File.ReadAllBytesAsync(Root("f.bin")));
        Assert.Equal(["f.bin"], Directory.GetFileSystemEntries(Server.Root).Select(Path.GetFileName));
        Assert.Equal("pong", await PingAsync());
    }

    [Fact]
    public async Task A_group_count_that_lies_or_a_list_longer_than_declared_is_refused()
    {
        var (old, fresh, _, groups) = await EditedFileAsync("f.bin");
        var list = ChunkGroups.Encode(groups);

        // The header says one group more (or fewer) than the body holds.
        Assert.Equal((null, "field_invalid"), await OpenAsync("f.bin", fresh.Length, list, groups.Count + 1, ["f.bin"]));
        Assert.Equal((null, "field_invalid"), await OpenAsync("f.bin", fresh.Length, list, groups.Count - 1, ["f.bin"]));
        // Bytes after the declared groups: a group list longer than declared.
        Assert.Equal((null, "field_invalid"), await OpenAsync("f.bin", fresh.Length, [.. list, 1, 2, 3, 4, 5, 6, 7, 8, 9], groups.Count, ["f.bin"]));
        // More groups than a file of this size can have, and a list that says nothing.
        Assert.Equal((null, "field_invalid"), await OpenAsync("f.bin", 1000, list, groups.Count, ["f.bin"]));
        Assert.Equal((null, "field_invalid"), await OpenAsync("f.bin", fresh.Length, [], 0, ["f.bin"]));
        // A group of no chunks, and one of more than 64.
        Assert.Equal((null, "field_invalid"), await OpenAsync("f.bin", fresh.Length, ChunkGroups.Encode([new ChunkGroup(0, 0, 7)]), 1, ["f.bin"]));
        Assert.Equal((null, "field_invalid"), await OpenAsync("f.bin", fresh.Length, ChunkGroups.Encode([new ChunkGroup(0, 65, 7)]), 1, ["f.bin"]));
        // Negative count.
        Assert.Equal((null, "field_invalid"), await OpenAsync("f.bin", fresh.Length, list, -1, ["f.bin"]));

        Assert.Equal(old, await File.ReadAllBytesAsync(Root("f.bin")));
        Assert.Equal(["f.bin"], Directory.GetFileSystemEntries(Server.Root).Select(Path.GetFileName));
        Assert.Equal("pong", await PingAsync());
    }

    [Fact]
    public async Task Chunks_for_groups_not_asked_or_that_do_not_give_their_hash_are_refused()
    {
        var (old, fresh, chunks, groups) = await EditedFileAsync("f.bin");
        var list = ChunkGroups.Encode(groups);
        var notAsked = Enumerable.Range(0, groups.Count);

        // Chunk ids of every group, where only the missing ones were asked for.
        var (missing, _) = await OpenAsync("f.bin", fresh.Length, list, groups.Count, ["f.bin"]);
        Assert.NotNull(missing);
        Assert.Equal("field_invalid", await PutChunksAsync(1, ChunksOfGroups(chunks, groups, notAsked)));
        // The put was dropped with its refusal: put_chunks again finds nothing waiting.
        Assert.Equal("field_invalid", await PutChunksAsync(1, ChunksOfGroups(chunks, groups, missing)));

        // Fewer chunks than asked (the last missing group left out).
        (missing, _) = await OpenAsync("f.bin", fresh.Length, list, groups.Count, ["f.bin"]);
        Assert.Equal("field_invalid", await PutChunksAsync(1, ChunksOfGroups(chunks, groups, missing![..^1])));

        // The right number of chunks, but other ones: they do not give the groups' hashes.
        (missing, _) = await OpenAsync("f.bin", fresh.Length, list, groups.Count, ["f.bin"]);
        var others = Enumerable.Range(0, groups.Count).Where(i => !missing!.Contains(i) && groups[i].ChunkCount == groups[missing![0]].ChunkCount).Take(1).ToList();
        if (others.Count == 1 && missing!.Length == 1)
            Assert.Equal("field_invalid", await PutChunksAsync(1, ChunksOfGroups(chunks, groups, others)));
        else
            Assert.Equal("field_invalid", await PutChunksAsync(1, ChunkListCodec.Encode(new ChunkList(
                Enumerable.Range(0, missing!.Sum(i => groups[i].ChunkCount)).Select(i => new Chunk(i * 10L, 10, new ChunkId((ulong)i))).ToList(), ChunkIdWidth.Bits64))));

        // Garbage, and put_chunks for an id that never had a two-level put.
        (missing, _) = await OpenAsync("f.bin", fresh.Length, list, groups.Count, ["f.bin"]);
        Assert.Equal("field_invalid", await PutChunksAsync(1, RandomBytes(100, 44)));
        Assert.Equal("field_invalid", await PutChunksAsync(77, ChunksOfGroups(chunks, groups, [])));

        // Data and put_end before the chunks: the upload is not open yet, so nothing is written or committed.
        (missing, _) = await OpenAsync("f.bin", fresh.Length, list, groups.Count, ["f.bin"]);
        await Peer.SendAsync(new { cmd = "put_data", id = 1, offset = 0, bodysize = 10 }, new byte[10]);
        Assert.Equal("unknown_transfer", await Peer.AskAsync(new { cmd = "put_end", id = 1, hash = Hex(fresh) }));

        Assert.Equal(old, await File.ReadAllBytesAsync(Root("f.bin")));
        Assert.Equal(["f.bin"], Directory.GetFileSystemEntries(Server.Root).Select(Path.GetFileName));
        Assert.Equal("pong", await PingAsync());
    }

    [Fact]
    public async Task A_put_that_reuses_the_id_of_a_waiting_two_level_put_is_refused_and_the_waiting_one_goes_on()
    {
        var (_, fresh, chunks, groups) = await EditedFileAsync("f.bin");
        var (missing, reply) = await OpenAsync("f.bin", fresh.Length, ChunkGroups.Encode(groups), groups.Count, ["f.bin"]);
        Assert.True(missing is not null, reply);

        Assert.Equal("field_invalid", await Peer.AskAsync(new { cmd = "put", id = 1, path = "other.bin", size = 10, force = true }));
        Assert.Equal((null, "field_invalid"), await OpenAsync("f.bin", fresh.Length, ChunkGroups.Encode(groups), groups.Count, ["f.bin"]));

        Assert.Equal("put_ready", await PutChunksAsync(1, ChunksOfGroups(chunks, groups, missing)));
        Assert.False(File.Exists(Root("other.bin")));
    }

    [Fact]
    public async Task Groups_whose_sizes_do_not_add_up_to_the_put_are_refused()
    {
        var (old, fresh, chunks, groups) = await EditedFileAsync("f.bin");
        // Honest groups and chunks, but a put that claims a byte more: the rebuilt list is one byte short.
        var (missing, reply) = await OpenAsync("f.bin", fresh.Length + 1, ChunkGroups.Encode(groups), groups.Count, ["f.bin"]);
        Assert.True(missing is not null, reply);
        Assert.Equal("field_invalid", await PutChunksAsync(1, ChunksOfGroups(chunks, groups, missing)));
        // And one that claims a byte less: the chunks run past its end.
        (missing, reply) = await OpenAsync("f.bin", fresh.Length - 1, ChunkGroups.Encode(groups), groups.Count, ["f.bin"]);
        Assert.True(missing is not null, reply);
        Assert.Equal("field_invalid", await PutChunksAsync(1, ChunksOfGroups(chunks, groups, missing)));

        Assert.Equal(old, await File.ReadAllBytesAsync(Root("f.bin")));
        Assert.Equal("pong", await PingAsync());
    }

    [Fact]
    public async Task A_pull_picks_the_chunks_of_chosen_groups_and_bad_picks_are_refused()
    {
        var data = RandomBytes(400_000, 45);
        await File.WriteAllBytesAsync(Root("p.bin"), data);
        var chunks = ChunksOf(data);
        var groups = ChunkGroups.Split(chunks);

        var frame = await AskFrameAsync(new { cmd = "chunks", id = 5, path = "p.bin", avg = Avg, groups = true });
        Assert.Equal("chunk_list", frame.Command);
        var message = JsonSerializer.Deserialize(frame.Json, FerryJsonContext.Default.ChunkListMessage)!;
        Assert.Equal(groups.Count, message.Groups);
        Assert.Equal(groups, ChunkGroups.Decode(frame.Body, groups.Count, chunks.Count));

        int[] picked = [1, 3, groups.Count - 1];
        var indices = ChunkGroups.EncodeIndices(picked);
        frame = await AskFrameAsync(new { cmd = "chunks", id = 6, path = "p.bin", avg = Avg, hash = message.Hash, pick = 3, bodysize = indices.Length }, indices);
        Assert.Equal("chunk_list", frame.Command);
        Assert.Equal(ChunksOfGroups(chunks, groups, picked), frame.Body);

        // An index past the last group; a count that lies about the body; more picks than groups; a gap past the end; a stale hash; both modes at once.
        var beyond = ChunkGroups.EncodeIndices([groups.Count]);
        Assert.Equal("field_invalid", await PickAsync(message.Hash, 1, beyond));
        Assert.Equal("field_invalid", await PickAsync(message.Hash, 2, indices));
        Assert.Equal("field_invalid", await PickAsync(message.Hash, groups.Count + 1, new byte[groups.Count + 1]));
        Assert.Equal("field_invalid", await PickAsync(message.Hash, 2, new byte[] { 3, 0x7F, 0xFF, 0xFF, 0xFF, 0x0F }));
        Assert.Equal("checksum_mismatch", await PickAsync(new string('0', 32), 3, indices));
        Assert.Equal("field_invalid", await PickAsync(message.Hash, 3, indices, groups: true));
        Assert.Equal("field_invalid", await Peer.AskAsync(new { cmd = "chunks", id = 7, path = "p.bin", avg = Avg, groups = true, bodysize = indices.Length }, indices));
        Assert.Equal("pong", await PingAsync());
    }

    private async Task<Ferry.Testing.ReceivedFrame> AskFrameAsync(object header, byte[]? body = null)
    {
        await Peer.SendAsync(header, body ?? default(ReadOnlyMemory<byte>));
        return await Peer.ReadAsync();
    }
}
