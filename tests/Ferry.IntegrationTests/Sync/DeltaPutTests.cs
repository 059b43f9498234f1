using System.Buffers.Binary;
using System.Text.Json;
using Ferry.Protocol.Messages;
using Ferry.Sync.Chunking;
using Ferry.Sync.Delta;
using Ferry.Testing;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests.Sync;

/// <summary>The delta put (docs/protocol.md §5.9.3) at the frame level: reuse, and chunk lists and data that lie.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class DeltaPutTests : SyncWireTest
{
    internal static byte[] ChunkListOf(byte[] data, int avg) =>
        ChunkListCodec.Encode(new ChunkList(new FastCdcChunker(ChunkingParameters.ForAverageSize(avg)).Chunk(data), ChunkIdWidth.Bits64));

    internal static List<(long Offset, long Length)> Ranges(byte[] body)
    {
        var ranges = new List<(long, long)>();
        for (var i = 0; i < body.Length; i += 16)
            ranges.Add((BinaryPrimitives.ReadInt64LittleEndian(body.AsSpan(i)), BinaryPrimitives.ReadInt64LittleEndian(body.AsSpan(i + 8))));
        return ranges;
    }

    /// <summary>Opens a delta put; returns the needed ranges (or null and the error code).</summary>
    internal static async Task<(List<(long Offset, long Length)>? Needed, string Reply)> OpenAsync(SyncPeer peer, string path, byte[] data, string[] basis, int avg,
        byte[]? list = null, object? extra = null)
    {
        list ??= ChunkListOf(data, avg);
        var header = new Dictionary<string, object?>
        {
            ["cmd"] = "put", ["id"] = 1, ["path"] = path, ["size"] = data.Length, ["force"] = true, ["basis"] = basis, ["avg"] = avg, ["bodysize"] = list.Length,
        };
        foreach (var property in extra?.GetType().GetProperties() ?? [])
            header[property.Name] = property.GetValue(extra);
        await peer.SendAsync(header, list);
        var frame = await peer.ReadAsync();
        if (frame.Command != "put_ready")
            return (null, frame.Command == "error" ? JsonDocument.Parse(frame.Json).RootElement.GetProperty("code").GetString()! : frame.Command);
        var ready = JsonSerializer.Deserialize(frame.Json, FerryJsonContext.Default.PutReadyMessage)!;
        var ranges = Ranges(frame.Body);
        Assert.Equal(ready.NeededRanges, ranges.Count);
        return (ranges, "put_ready");
    }

    /// <summary>A whole delta put: sends exactly the needed ranges; returns the bytes sent and the put_end reply.</summary>
    private async Task<(long Sent, string Reply)> DeltaPutAsync(string path, byte[] data, string[] basis, int avg, object? extra = null)
    {
        var (needed, reply) = await OpenAsync(Peer, path, data, basis, avg, extra: extra);
        Assert.True(needed is not null, reply);
        long sent = 0;
        foreach (var (offset, length) in needed)
        {
            await Peer.SendAsync(new { cmd = "put_data", id = 1, offset, bodysize = length }, data.AsMemory((int)offset, (int)length));
            sent += length;
        }
        await Peer.SendAsync(new { cmd = "put_end", id = 1, hash = Hex(data) });
        return (sent, await Peer.ReadCodeAsync());
    }

    private static byte[] Insert(byte[] data, int at, byte[] inserted) => [.. data.AsSpan(0, at), .. inserted, .. data.AsSpan(at)];

    [Fact]
    public async Task A_100_KiB_insertion_into_an_8_MiB_file_sends_little_more_than_the_insertion()
    {
        var old = RandomBytes(8 * 1024 * 1024, 21);
        await File.WriteAllBytesAsync(Root("big.bin"), old);
        var fresh = Insert(old, 4 * 1024 * 1024 + 12345, RandomBytes(100 * 1024, 22));
        var avg = ChunkingParameters.ForFileLength(fresh.Length).AverageSize;

        var (sent, reply) = await DeltaPutAsync("big.bin", fresh, ["big.bin"], avg, new { mtime_ns = 1_700_000_000_000_000_001L, mode = 416 });
        Assert.Equal("done", reply);
        Assert.InRange(sent, 100 * 1024, 300 * 1024);
        Assert.Equal(fresh, await File.ReadAllBytesAsync(Root("big.bin")));
        Assert.Equal((UnixFileMode)416, File.GetUnixFileMode(Root("big.bin")));
        Assert.Equal(1_700_000_000_000_000_000L, (File.GetLastWriteTimeUtc(Root("big.bin")) - DateTime.UnixEpoch).Ticks * 100);
        Assert.Equal(["big.bin"], Directory.GetFileSystemEntries(Server.Root).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_renamed_file_is_rebuilt_from_its_old_name_and_repeats_are_copied_within_the_new_file()
    {
        var old = RandomBytes(600_000, 23);
        await File.WriteAllBytesAsync(Root("old.bin"), old);
        var (sent, reply) = await DeltaPutAsync("dir-less-new.bin", old, ["old.bin", "missing.bin", "."], 4096);
        Assert.Equal(("done", 0L), (reply, sent));
        Assert.Equal(old, await File.ReadAllBytesAsync(Root("dir-less-new.bin")));

        var block = RandomBytes(200_000, 24);
        byte[] twice = [.. block, .. block, .. block];
        (sent, reply) = await DeltaPutAsync("twice.bin", twice, [], 4096);
        Assert.Equal("done", reply);
        Assert.InRange(sent, 200_000, 240_000);
        Assert.Equal(twice, await File.ReadAllBytesAsync(Root("twice.bin")));
    }

    [Fact]
    public async Task A_put_of_the_current_content_rewrites_nothing_and_sets_mode_and_time()
    {
        var data = RandomBytes(300_000, 25);
        await File.WriteAllBytesAsync(Root("same.bin"), data);
        var before = Ferry.Sync.Caching.FileStat.TryGetRegularFile(Root("same.bin"), out var identity) ? identity.Inode : 0;

        var (sent, reply) = await DeltaPutAsync("same.bin", data, ["same.bin"], 4096, new { mode = 384, mtime_ns = 1_600_000_000_000_000_000L });
        Assert.Equal(("done", 0L), (reply, sent));
        Assert.True(Ferry.Sync.Caching.FileStat.TryGetRegularFile(Root("same.bin"), out var after));
        Assert.Equal(before, after.Inode);
        Assert.Equal((UnixFileMode)384, File.GetUnixFileMode(Root("same.bin")));
        Assert.Equal(new DateTime(2020, 9, 13, 12, 26, 40, DateTimeKind.Utc), File.GetLastWriteTimeUtc(Root("same.bin")));
        Assert.Equal(data, await File.ReadAllBytesAsync(Root("same.bin")));
        Assert.Equal(["same.bin"], Directory.GetFileSystemEntries(Server.Root).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_chunk_list_that_does_not_add_up_to_the_size_or_is_garbage_is_refused()
    {
        var data = RandomBytes(50_000, 26);
        await File.WriteAllBytesAsync(Root("keep.bin"), data);
        var list = ChunkListOf(data, 1024);

        var (needed, reply) = await OpenAsync(Peer, "keep.bin", RandomBytes(50_001, 1), ["keep.bin"], 1024, list);
        Assert.Equal((null, "field_invalid"), (needed, reply));
        (needed, reply) = await OpenAsync(Peer, "keep.bin", data, ["keep.bin"], 1024, RandomBytes(300, 27));
        Assert.Equal((null, "field_invalid"), (needed, reply));
        (needed, reply) = await OpenAsync(Peer, "keep.bin", data, ["keep.bin"], 1024, []);
        Assert.Equal((null, "field_invalid"), (needed, reply));
        // A list of many tiny chunks: more than a file of this size can have.
        var tiny = ChunkListCodec.Encode(new ChunkList(Enumerable.Range(0, 50_000).Select(i => new Chunk(i, 1, new ChunkId((ulong)i))).ToList(), ChunkIdWidth.Bits64));
        (needed, reply) = await OpenAsync(Peer, "keep.bin", data, ["keep.bin"], 1024, tiny);
        Assert.Equal((null, "field_invalid"), (needed, reply));

        Assert.Equal(data, await File.ReadAllBytesAsync(Root("keep.bin")));
        Assert.Equal(["keep.bin"], Directory.GetFileSystemEntries(Server.Root).Select(Path.GetFileName));
        Assert.Equal("pong", await PingAsync());
    }

    private async Task<string> PingAsync()
    {
        await Peer.SendAsync(new { cmd = "echo" });
        var frame = await Peer.ReadAsync();
        return frame.Command == "echo" ? "pong" : frame.Json;
    }

    [Fact]
    public async Task Put_data_outside_the_needed_ranges_fails_the_upload_at_put_end()
    {
        var old = RandomBytes(400_000, 28);
        await File.WriteAllBytesAsync(Root("f.bin"), old);
        var fresh = Insert(old, 200_000, RandomBytes(20_000, 29));
        var (needed, _) = await OpenAsync(Peer, "f.bin", fresh, ["f.bin"], 4096);
        Assert.NotNull(needed);
        Assert.NotEmpty(needed);
        // Overwrites bytes the server copied itself (the first 10,000 come from the old file).
        await Peer.SendAsync(new { cmd = "put_data", id = 1, offset = 0, bodysize = 10_000 }, new byte[10_000]);
        foreach (var (offset, length) in needed)
            await Peer.SendAsync(new { cmd = "put_data", id = 1, offset, bodysize = length }, fresh.AsMemory((int)offset, (int)length));
        await Peer.SendAsync(new { cmd = "put_end", id = 1, hash = Hex(fresh) });
        Assert.Equal("field_invalid", await Peer.ReadCodeAsync());
        Assert.Equal(old, await File.ReadAllBytesAsync(Root("f.bin")));

        // A range that starts inside a needed one but runs past its end is refused as well.
        (needed, _) = await OpenAsync(Peer, "f.bin", fresh, ["f.bin"], 4096);
        var (start, count) = needed![0];
        await Peer.SendAsync(new { cmd = "put_data", id = 1, offset = start, bodysize = count + 1 }, fresh.AsMemory((int)start, (int)count + 1));
        await Peer.SendAsync(new { cmd = "put_end", id = 1, hash = Hex(fresh) });
        Assert.Equal("field_invalid", await Peer.ReadCodeAsync());
        Assert.Equal(old, await File.ReadAllBytesAsync(Root("f.bin")));
    }

    [Fact]
    public async Task A_basis_that_escapes_the_root_is_refused_and_nothing_outside_is_read()
    {
        var secret = RandomBytes(100_000, 30);
        await File.WriteAllBytesAsync(Outside.Combine("secret.bin"), secret);
        Directory.CreateSymbolicLink(Root("out"), Outside.Path);
        File.CreateSymbolicLink(Root("lnk.bin"), Outside.Combine("secret.bin"));
        foreach (var basis in new[] { "../" + Path.GetFileName(Outside.Path) + "/secret.bin", "out/secret.bin", "lnk.bin" })
        {
            var (needed, reply) = await OpenAsync(Peer, "guess.bin", secret, [basis], 4096);
            Assert.Equal((null, "path_escapes_root"), (needed, reply));
        }
        Assert.Equal("path_invalid", (await OpenAsync(Peer, "guess.bin", secret, ["/etc/passwd\0"], 4096)).Reply);
        Assert.False(File.Exists(Root("guess.bin")));
        Assert.Equal("field_invalid", (await OpenAsync(Peer, "guess.bin", secret, Enumerable.Repeat("a", 17).ToArray(), 4096)).Reply);
    }

    [Fact]
    public async Task Resume_shared_sha256_and_a_bad_avg_cannot_be_combined_with_basis()
    {
        var data = RandomBytes(10_000, 31);
        Assert.Equal("field_invalid", (await OpenAsync(Peer, "x.bin", data, [], 1024, extra: new { resume = true })).Reply);
        Assert.Equal("field_invalid", (await OpenAsync(Peer, "x.bin", data, [], 1024, extra: new { shared = true })).Reply);
        Assert.Equal("field_invalid", (await OpenAsync(Peer, "x.bin", data, [], 1024, extra: new { checksum = "sha256" })).Reply);
        Assert.Equal("field_invalid", (await OpenAsync(Peer, "x.bin", data, [], 1000, ChunkListOf(data, 1024))).Reply);
        Assert.Equal("field_invalid", (await OpenAsync(Peer, "x.bin", data, [], 1024, extra: new { mtime = 5, mtime_ns = 5 })).Reply);
        Assert.Empty(Directory.GetFileSystemEntries(Server.Root));
    }

    [Fact]
    public async Task A_delta_put_with_a_wrong_hash_commits_nothing()
    {
        var old = RandomBytes(100_000, 32);
        await File.WriteAllBytesAsync(Root("h.bin"), old);
        var fresh = Insert(old, 50_000, RandomBytes(5_000, 33));
        var (needed, _) = await OpenAsync(Peer, "h.bin", fresh, ["h.bin"], 1024);
        foreach (var (offset, length) in needed!)
            await Peer.SendAsync(new { cmd = "put_data", id = 1, offset, bodysize = length }, new byte[length]); // not the real bytes
        await Peer.SendAsync(new { cmd = "put_end", id = 1, hash = Hex(fresh) });
        Assert.Equal("checksum_mismatch", await Peer.ReadCodeAsync());
        Assert.Equal(old, await File.ReadAllBytesAsync(Root("h.bin")));
    }

    [Fact]
    public async Task The_quota_applies_to_a_delta_put_as_to_any_put_of_its_size()
    {
        await using var server = await TestServer.StartAsync(o => o with { QuotaBytes = 100_000 });
        await using var peer = await SyncPeer.ConnectAsync(server);
        var old = RandomBytes(60_000, 34);
        await peer.SendAsync(new { cmd = "put", id = 9, path = "q.bin", size = old.Length });
        Assert.Equal("put_ready", await peer.ReadCodeAsync());
        await peer.SendAsync(new { cmd = "put_data", id = 9, offset = 0, bodysize = old.Length }, old);
        await peer.SendAsync(new { cmd = "put_end", id = 9, hash = Hex(old) });
        Assert.Equal("done", await peer.ReadCodeAsync());
        // The new file reuses all of the old one, but a second copy does not fit.
        var (needed, reply) = await OpenAsync(peer, "q2.bin", [.. old, .. RandomBytes(1000, 35)], ["q.bin"], 1024);
        Assert.Equal((null, "quota_exceeded"), (needed, reply));
        Assert.Equal(["q.bin"], Directory.GetFileSystemEntries(server.Root).Select(Path.GetFileName));
    }

    [Fact]
    public async Task An_interrupted_delta_put_reuses_the_part_file_it_left()
    {
        var old = RandomBytes(200_000, 36);
        await File.WriteAllBytesAsync(Root("r.bin"), old);
        var fresh = RandomBytes(300_000, 37);
        var (needed, _) = await OpenAsync(Peer, "r.bin", fresh, ["r.bin"], 1024);
        Assert.Equal([(0L, 300_000L)], needed);
        await Peer.SendAsync(new { cmd = "put_data", id = 1, offset = 0, bodysize = 250_000 }, fresh.AsMemory(0, 250_000));
        Assert.Equal("pong", await PingAsync()); // the data is written
        // The connection drops: the part file is kept for a later attempt, once the server noticed.
        await Peer.DisposeAsync();
        Peer = await SyncPeer.ConnectAsync(Server);
        using var deadline = new CancellationTokenSource(TestTimeouts.Default);
        List<(long Offset, long Length)>? again;
        string reply;
        while (((again, reply) = await OpenAsync(Peer, "r.bin", fresh, ["r.bin"], 1024)).reply == "transfer_in_progress")
            deadline.Token.ThrowIfCancellationRequested();
        Assert.True(again is not null, reply);
        Assert.InRange(again.Sum(r => r.Length), 50_000, 60_000);
        foreach (var (offset, length) in again)
            await Peer.SendAsync(new { cmd = "put_data", id = 1, offset, bodysize = length }, fresh.AsMemory((int)offset, (int)length));
        await Peer.SendAsync(new { cmd = "put_end", id = 1, hash = Hex(fresh) });
        Assert.Equal("done", await Peer.ReadCodeAsync());
        Assert.Equal(fresh, await File.ReadAllBytesAsync(Root("r.bin")));
    }

    [Fact]
    public async Task A_put_of_the_same_content_to_a_link_replaces_the_link_with_a_file()
    {
        var data = RandomBytes(100_000, 38);
        await File.WriteAllBytesAsync(Root("t.bin"), data);
        File.CreateSymbolicLink(Root("l.bin"), "t.bin");
        var (sent, reply) = await DeltaPutAsync("l.bin", data, ["l.bin"], 1024, new { mode = 384 });
        Assert.Equal(("done", 0L), (reply, sent));
        Assert.Null(new FileInfo(Root("l.bin")).LinkTarget);
        Assert.Equal(data, await File.ReadAllBytesAsync(Root("l.bin")));
        Assert.Equal(data, await File.ReadAllBytesAsync(Root("t.bin")));
        Assert.Equal((UnixFileMode)384, File.GetUnixFileMode(Root("l.bin")));
    }

    [Fact]
    public async Task Needed_ranges_may_come_zstd_compressed_and_a_compressed_range_is_checked_by_its_raw_size()
    {
        var old = System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 20_000).Select(i => $"line {i}\n")));
        await File.WriteAllBytesAsync(Root("z.txt"), old);
        var fresh = Insert(old, 60_000, System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 2_000).Select(i => $"new {i}\n"))));
        var (needed, _) = await OpenAsync(Peer, "z.txt", fresh, ["z.txt"], 1024);
        using var compressor = new ZstdSharp.Compressor(3);
        foreach (var (offset, length) in needed!)
        {
            var packed = compressor.Wrap(fresh.AsSpan((int)offset, (int)length)).ToArray();
            await Peer.SendAsync(new { cmd = "put_data", id = 1, offset, bodysize = packed.Length, encoding = "zstd", rawsize = length }, packed);
        }
        await Peer.SendAsync(new { cmd = "put_end", id = 1, hash = Hex(fresh) });
        Assert.Equal("done", await Peer.ReadCodeAsync());
        Assert.Equal(fresh, await File.ReadAllBytesAsync(Root("z.txt")));

        // A small body whose raw size runs past the needed range is refused.
        var newer = Insert(fresh, 10_000, RandomBytes(3000, 39));
        (needed, _) = await OpenAsync(Peer, "z.txt", newer, ["z.txt"], 1024);
        var (start, count) = needed![0];
        var tooLong = compressor.Wrap(newer.AsSpan((int)start, (int)count + 500)).ToArray();
        await Peer.SendAsync(new { cmd = "put_data", id = 1, offset = start, bodysize = tooLong.Length, encoding = "zstd", rawsize = count + 500 }, tooLong);
        await Peer.SendAsync(new { cmd = "put_end", id = 1, hash = Hex(newer) });
        Assert.Equal("field_invalid", await Peer.ReadCodeAsync());
        Assert.Equal(fresh, await File.ReadAllBytesAsync(Root("z.txt")));
    }

    /// <summary><paramref name="data"/> with <paramref name="count"/> scattered 10,000-byte regions overwritten.</summary>
    private static byte[] Scatter(byte[] data, int count, int seed)
    {
        var fresh = (byte[])data.Clone();
        for (var i = 0; i < count; i++)
            RandomBytes(10_000, seed + i).CopyTo(fresh, (long)data.Length * (2 * i + 1) / (2 * count));
        return fresh;
    }

    [Fact]
    public async Task A_basis_overwritten_in_place_after_put_ready_fails_the_check_and_commits_nothing()
    {
        var old = RandomBytes(3_000_000, 40);
        await File.WriteAllBytesAsync(Root("base.bin"), old);
        var fresh = Scatter(old, 4, 41);
        var (needed, reply) = await OpenAsync(Peer, "new.bin", fresh, ["base.bin"], 4096);
        Assert.True(needed is { Count: >= 2 }, reply);

        // The server copies what it holds as the data before it arrives: the copies after the first range read the basis
        // as it is now, same size, different bytes. The file they make must not pass for the sender's.
        await using (var basis = new FileStream(Root("base.bin"), FileMode.Open, FileAccess.Write))
        {
            basis.Position = 2_000_000;
            await basis.WriteAsync(RandomBytes(500_000, 42));
        }
        foreach (var (offset, length) in needed)
            await Peer.SendAsync(new { cmd = "put_data", id = 1, offset, bodysize = length }, fresh.AsMemory((int)offset, (int)length));
        await Peer.SendAsync(new { cmd = "put_end", id = 1, hash = Hex(fresh) });

        Assert.Equal("checksum_mismatch", await Peer.ReadCodeAsync());
        Assert.False(File.Exists(Root("new.bin")));
        Assert.Equal(["base.bin"], Directory.GetFileSystemEntries(Server.Root).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Needed_ranges_sent_back_to_front_still_make_the_right_file()
    {
        var old = RandomBytes(2_000_000, 43);
        await File.WriteAllBytesAsync(Root("rev.bin"), old);
        var fresh = Scatter(old, 5, 44);
        var (needed, reply) = await OpenAsync(Peer, "rev.bin", fresh, ["rev.bin"], 4096);
        Assert.True(needed is { Count: >= 2 }, reply);
        foreach (var (offset, length) in Enumerable.Reverse(needed))
            await Peer.SendAsync(new { cmd = "put_data", id = 1, offset, bodysize = length }, fresh.AsMemory((int)offset, (int)length));
        await Peer.SendAsync(new { cmd = "put_end", id = 1, hash = Hex(fresh) });

        Assert.Equal("done", await Peer.ReadCodeAsync());
        Assert.Equal(fresh, await File.ReadAllBytesAsync(Root("rev.bin")));
    }

    [Fact]
    public async Task More_open_delta_puts_than_may_hold_their_bases_copy_up_front_and_all_commit()
    {
        const int Puts = Ferry.Server.Handlers.Sync.DeltaUploads.MaxHoldingPerConnection + 3;
        var old = RandomBytes(300_000, 45);
        await File.WriteAllBytesAsync(Root("shared.bin"), old);
        var files = new List<(byte[] Data, List<(long Offset, long Length)> Needed)>();
        for (var id = 1; id <= Puts; id++)
        {
            var fresh = Scatter(old, 2, 100 + 10 * id);
            var list = ChunkListOf(fresh, 1024);
            await Peer.SendAsync(new { cmd = "put", id, path = $"out{id}.bin", size = fresh.Length, force = true, basis = new[] { "shared.bin" }, avg = 1024, bodysize = list.Length },
                list);
            var frame = await Peer.ReadAsync();
            Assert.True(frame.Command == "put_ready", frame.Json);
            files.Add((fresh, Ranges(frame.Body)));
        }
        // Ended in reverse order, each with its ranges back to front.
        for (var id = Puts; id >= 1; id--)
        {
            var (fresh, needed) = files[id - 1];
            foreach (var (offset, length) in Enumerable.Reverse(needed))
                await Peer.SendAsync(new { cmd = "put_data", id, offset, bodysize = length }, fresh.AsMemory((int)offset, (int)length));
            await Peer.SendAsync(new { cmd = "put_end", id, hash = Hex(fresh) });
            Assert.Equal("done", await Peer.ReadCodeAsync());
        }
        for (var id = 1; id <= Puts; id++)
            Assert.Equal(files[id - 1].Data, await File.ReadAllBytesAsync(Root($"out{id}.bin")));
    }

    [Fact]
    public async Task A_scan_over_its_entry_limit_is_refused()
    {
        Directory.CreateDirectory(Root("few"));
        for (var i = 0; i < 101; i++)
            File.Create(Root($"few/{i}")).Dispose();
        var store = new Ferry.Server.Storage.LocalFileStore(Server.Root);
        var seen = 0;
        var refused = await Assert.ThrowsAsync<Ferry.Protocol.Errors.FerryException>(async () =>
            await store.ScanAsync("", 100, null, _ => { seen++; return ValueTask.CompletedTask; }, CancellationToken.None));
        Assert.Equal(Ferry.Protocol.Errors.FerryErrorCode.FieldInvalid, refused.Code);
        Assert.Equal(100, seen);
        await store.ScanAsync("", 102, null, _ => ValueTask.CompletedTask, CancellationToken.None);
    }
}
