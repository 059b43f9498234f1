using System.Text.Json;
using Ferry.Protocol.Messages;
using Ferry.Testing;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests.Sync;

/// <summary>put_file (docs/protocol.md §5.2.2): a whole small file in one frame, and every way its frame can lie.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class PutFileTests : SyncWireTest
{
    private static Dictionary<string, object?> Header(string path, byte[] data, long id = 1, object? extra = null)
    {
        var header = new Dictionary<string, object?>
        {
            ["cmd"] = "put_file", ["id"] = id, ["path"] = path, ["hash"] = Hex(data), ["bodysize"] = data.Length,
        };
        foreach (var property in extra?.GetType().GetProperties() ?? [])
            header[property.Name] = property.GetValue(extra);
        return header;
    }

    /// <summary>The connection still answers, in order, after whatever came before.</summary>
    private async Task AssertStillServingAsync(SyncPeer peer)
    {
        var data = RandomBytes(10, 99);
        Assert.Equal("done", await peer.AskAsync(Header("after.txt", data, id: 77, extra: new { force = true }), data));
        Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(Server.Root, "after.txt")));
    }

    private IEnumerable<string> PartFiles() =>
        Directory.EnumerateFiles(Server.Root, ".ferry-part.*", SearchOption.AllDirectories);

    [Fact]
    public async Task A_file_in_one_frame_is_stored_with_its_mode_and_nanosecond_time()
    {
        Assert.Contains("put_file", Peer.Features);
        var data = RandomBytes(5000, 1);
        const long Ns = 1_700_000_000_123_456_789;
        await Peer.SendAsync(Header("a.bin", data, extra: new { mode = 0x1A0, mtime_ns = Ns }), data);
        var done = await Peer.ReadAsync();
        Assert.Equal("done", done.Command);
        var reply = JsonSerializer.Deserialize(done.Json, FerryJsonContext.Default.TransferDoneMessage)!;
        Assert.Equal((1L, "a.bin", 5000L, Hex(data)), (reply.Id, reply.Path, reply.Size, reply.Hash));
        Assert.Equal(data, await File.ReadAllBytesAsync(Root("a.bin")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(Root("a.bin")));
        Assert.Equal(Ns / 100 * 100, (File.GetLastWriteTimeUtc(Root("a.bin")) - DateTime.UnixEpoch).Ticks * 100);
        Assert.Empty(PartFiles());
    }

    [Fact]
    public async Task Pipelined_put_files_and_an_empty_file_are_answered_in_order()
    {
        var files = Enumerable.Range(0, 20).Select(i => RandomBytes(i * 100, 10 + i)).ToList();
        for (var i = 0; i < files.Count; i++)
            await Peer.SendAsync(Header($"p{i}.bin", files[i], id: 100 + i), files[i]);
        for (var i = 0; i < files.Count; i++)
        {
            var frame = await Peer.ReadAsync();
            Assert.Equal("done", frame.Command);
            Assert.Equal(100 + i, JsonSerializer.Deserialize(frame.Json, FerryJsonContext.Default.TransferDoneMessage)!.Id);
            Assert.Equal(files[i], await File.ReadAllBytesAsync(Root($"p{i}.bin")));
        }
    }

    [Fact]
    public async Task A_wrong_hash_stores_nothing_and_leaves_no_part_file()
    {
        var data = RandomBytes(3000, 2);
        var header = Header("w.bin", data);
        header["hash"] = Hex(RandomBytes(3000, 3));
        Assert.Equal("checksum_mismatch", await Peer.AskAsync(header, data));
        Assert.False(File.Exists(Root("w.bin")));
        Assert.Empty(PartFiles());
        await AssertStillServingAsync(Peer);
    }

    [Theory]
    [InlineData("""{"hash":null}""")]
    [InlineData("""{"hash":"abc"}""")]
    [InlineData("""{"hash":"zz000000000000000000000000000000"}""")]
    [InlineData("""{"id":null}""")]
    [InlineData("""{"mtime":5,"mtime_ns":5}""")]
    [InlineData("""{"mode":-1}""")]
    [InlineData("""{"checksum":"md5"}""")]
    public async Task A_header_that_lies_or_lacks_a_field_is_refused_before_the_body_and_the_body_is_skipped(string overrides)
    {
        var data = RandomBytes(2000, 4);
        var header = Header("h.bin", data);
        foreach (var property in JsonDocument.Parse(overrides).RootElement.EnumerateObject())
            header[property.Name] = property.Value.ValueKind == JsonValueKind.Null ? null : property.Value.Clone();
        var code = await Peer.AskAsync(header, data);
        Assert.True(code is "field_invalid" or "checksum_unsupported", code);
        Assert.False(File.Exists(Root("h.bin")));
        Assert.Empty(PartFiles());
        await AssertStillServingAsync(Peer);
    }

    [Fact]
    public async Task An_existing_file_without_force_a_directory_and_an_escaping_path_are_refused()
    {
        await File.WriteAllTextAsync(Root("old.txt"), "old");
        Directory.CreateDirectory(Root("dir"));
        var data = RandomBytes(100, 5);
        Assert.Equal("already_exists", await Peer.AskAsync(Header("old.txt", data), data));
        Assert.Equal("old", await File.ReadAllTextAsync(Root("old.txt")));
        Assert.Equal("is_a_directory", await Peer.AskAsync(Header("dir", data, extra: new { force = true }), data));
        Assert.Equal("path_escapes_root", await Peer.AskAsync(Header("../escape.txt", data, extra: new { force = true }), data));
        Assert.Equal("not_found", await Peer.AskAsync(Header("missing/x.txt", data), data));
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(Server.Root)!, "escape.txt")));
        Assert.Empty(PartFiles());
        await AssertStillServingAsync(Peer);
    }

    [Fact]
    public async Task A_link_at_the_name_is_replaced_not_written_through_and_one_out_of_the_root_is_refused()
    {
        var outside = Path.Combine(Outside.Path, "victim.txt");
        await File.WriteAllTextAsync(outside, "victim");
        File.CreateSymbolicLink(Root("out.txt"), outside);
        var data = RandomBytes(64, 6);
        Assert.Equal("path_escapes_root", await Peer.AskAsync(Header("out.txt", data, extra: new { force = true }), data));
        Assert.Equal("victim", await File.ReadAllTextAsync(outside));

        await File.WriteAllTextAsync(Root("target.txt"), "inside");
        File.CreateSymbolicLink(Root("in.txt"), "target.txt");
        Assert.Equal("done", await Peer.AskAsync(Header("in.txt", data, extra: new { force = true }), data));
        Assert.Null(new FileInfo(Root("in.txt")).LinkTarget);
        Assert.Equal(data, await File.ReadAllBytesAsync(Root("in.txt")));
        Assert.Equal("inside", await File.ReadAllTextAsync(Root("target.txt")));
        Assert.Empty(PartFiles());
    }

    [Fact]
    public async Task A_body_over_16_MiB_is_refused_and_skipped()
    {
        var data = new byte[(int)PutFileMessage.MaxSize + 1];
        var header = Header("big.bin", data);
        Assert.Equal("field_invalid", await Peer.AskAsync(header, data));
        Assert.False(File.Exists(Root("big.bin")));
        await AssertStillServingAsync(Peer);
    }

    [Fact]
    public async Task The_quota_refuses_a_put_file_that_does_not_fit_before_its_body_is_written()
    {
        await using var server = await TestServer.StartAsync(o => o with { QuotaBytes = 10_000 });
        await using var peer = await SyncPeer.ConnectAsync(server);
        var fits = RandomBytes(6000, 7);
        Assert.Equal("done", await peer.AskAsync(Header("a.bin", fits), fits));
        var over = RandomBytes(6000, 8);
        Assert.Equal("quota_exceeded", await peer.AskAsync(Header("b.bin", over), over));
        Assert.Equal(["a.bin"], Directory.GetFileSystemEntries(server.Root).Select(Path.GetFileName));
    }

    [Fact]
    public async Task The_client_sends_small_files_in_one_frame_and_large_ones_with_put()
    {
        using var local = new TempDirectory("ferry-putfile");
        var small = RandomBytes(1000, 9);
        var large = RandomBytes(128 * 1024 + 1, 10); // just over what the client sends in one frame
        await File.WriteAllBytesAsync(Path.Combine(local.Path, "small.bin"), small);
        await File.WriteAllBytesAsync(Path.Combine(local.Path, "large.bin"), large);
        await using var client = await Server.ConnectAsync();
        var result = await client.PutTreeAsync(local.Path, "t");
        Assert.Empty(result.Failed);
        Assert.Equal(small, await File.ReadAllBytesAsync(Root("t/small.bin")));
        Assert.Equal(large, await File.ReadAllBytesAsync(Root("t/large.bin")));
        // A second run without force: both are compared with the server's copy, not failed.
        var again = await client.PutTreeAsync(local.Path, "t");
        Assert.Empty(again.Failed);
    }
}
