using System.Buffers;
using System.Text.Json;
using Ferry.Client;
using Ferry.Client.Sync;
using Ferry.Protocol.Files;
using Ferry.Protocol.Messages;
using Ferry.Sync.Batching;
using Ferry.Testing;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests.Sync;

/// <summary>
/// put_files (docs/protocol.md §5.9.7): many small files in one frame with one reply, every way its frame can lie
/// (each refused with a stable code, nothing stored, the connection still serving), and peers from before it.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class PutFilesTests : SyncWireTest
{
    private const long Ns = 1_700_000_000_123_456_700;

    private sealed record Spec(string Name, byte[] Data, int? Mode = null, long? Time = null, bool Force = true, byte[]? Hash = null);

    private static byte[] Body(params Spec[] files)
    {
        var body = new ArrayBufferWriter<byte>();
        var writer = new FileRecordWriter();
        foreach (var f in files)
            writer.Write(body, f.Name, f.Mode, f.Time, f.Force, f.Hash ?? ChecksumAlgorithm.Xxh3.Hash(f.Data), f.Data);
        return body.WrittenSpan.ToArray();
    }

    private static object Header(int count, byte[] body, long id = 1) => new { cmd = "put_files", id, count, bodysize = body.Length };

    private static (PutFilesDoneMessage Done, List<PutFilesFailure> Failures) Reply(ReceivedFrame frame)
    {
        Assert.Equal("put_files_done", frame.Command);
        var done = JsonSerializer.Deserialize(frame.Json, FerryJsonContext.Default.PutFilesDoneMessage)!;
        var failures = frame.Body.Length == 0 ? [] : JsonSerializer.Deserialize(frame.Body, FerryJsonContext.Default.ListPutFilesFailure)!;
        return (done, failures);
    }

    private IEnumerable<string> PartFiles() => Directory.EnumerateFiles(Server.Root, ".ferry-part.*", SearchOption.AllDirectories);

    /// <summary>The connection still answers after whatever came before, and nothing was left half written.</summary>
    private async Task AssertStillServingAsync()
    {
        var data = RandomBytes(10, 99);
        var body = Body(new Spec("after.txt", data));
        await Peer.SendAsync(Header(1, body, id: 77), body);
        var (done, failures) = Reply(await Peer.ReadAsync());
        Assert.Equal((77L, 1, 0), (done.Id, done.Count, done.Failed));
        Assert.Empty(failures);
        Assert.Equal(data, await File.ReadAllBytesAsync(Root("after.txt")));
        Assert.Empty(PartFiles());
    }

    [Fact]
    public async Task Many_files_in_one_frame_are_stored_with_mode_and_time_and_answered_once()
    {
        Assert.Contains("put_files", Peer.Features);
        Directory.CreateDirectory(Root("d"));
        var files = Enumerable.Range(0, 50).Select(i => new Spec($"d/f{i:000}.bin", RandomBytes(i * 37, i), Mode: 0x180 + i % 8, Time: Ns + i * 1000)).ToList();
        files.Add(new Spec("d/empty", []));
        var body = Body([.. files]);
        await Peer.SendAsync(Header(files.Count, body, id: 5), body);
        var (done, failures) = Reply(await Peer.ReadAsync());
        Assert.Equal((5L, files.Count, 0), (done.Id, done.Count, done.Failed));
        Assert.Empty(failures);
        foreach (var f in files)
        {
            Assert.Equal(f.Data, await File.ReadAllBytesAsync(Root(f.Name)));
            if (f.Mode is { } mode)
                Assert.Equal((UnixFileMode)mode, File.GetUnixFileMode(Root(f.Name)));
            if (f.Time is { } time)
                Assert.Equal(time / 100 * 100, (File.GetLastWriteTimeUtc(Root(f.Name)) - DateTime.UnixEpoch).Ticks * 100);
        }
        Assert.Empty(PartFiles());
    }

    [Fact]
    public async Task Files_the_store_refuses_are_listed_by_index_and_the_others_are_stored()
    {
        await File.WriteAllTextAsync(Root("old.txt"), "old");
        Directory.CreateDirectory(Root("dir"));
        var outside = Path.Combine(Outside.Path, "victim.txt");
        await File.WriteAllTextAsync(outside, "victim");
        File.CreateSymbolicLink(Root("out.txt"), outside);
        var good = RandomBytes(300, 1);
        var wrong = RandomBytes(300, 2);
        var body = Body(
            new Spec("a.bin", good),
            new Spec("old.txt", good, Force: false),
            new Spec("dir", good),
            new Spec("missing/x.bin", good),
            new Spec("out.txt", good),
            new Spec("w.bin", wrong, Hash: ChecksumAlgorithm.Xxh3.Hash(good)),
            new Spec("z.bin", good));
        await Peer.SendAsync(Header(7, body), body);
        var (done, failures) = Reply(await Peer.ReadAsync());
        Assert.Equal((7, 5), (done.Count, done.Failed));
        Assert.Equal([(1, "already_exists"), (2, "is_a_directory"), (3, "not_found"), (4, "path_escapes_root"), (5, "checksum_mismatch")],
            failures.Select(f => (f.Index, f.Code!)));
        Assert.All(failures, f => Assert.False(string.IsNullOrEmpty(f.Message)));
        Assert.Equal(good, await File.ReadAllBytesAsync(Root("a.bin")));
        Assert.Equal(good, await File.ReadAllBytesAsync(Root("z.bin")));
        Assert.Equal("old", await File.ReadAllTextAsync(Root("old.txt")));
        Assert.Equal("victim", await File.ReadAllTextAsync(outside));
        Assert.False(File.Exists(Root("w.bin")));
        await AssertStillServingAsync();
    }

    public static TheoryData<string, string> LyingHeaders => new()
    {
        { """{"id":null}""", "field_invalid" },
        { """{"count":null}""", "field_invalid" },
        { """{"count":0}""", "field_invalid" },
        { """{"count":4097}""", "field_invalid" },
        { """{"count":3}""", "field_invalid" },     // more records than the body holds
        { """{"count":1}""", "field_invalid" },     // fewer: bytes follow the last record
        { """{"count":1000}""", "field_invalid" },  // more than the body could hold at all (refused before it is read)
    };

    [Theory]
    [MemberData(nameof(LyingHeaders))]
    public async Task A_header_whose_count_or_id_lies_stores_nothing(string overrides, string code)
    {
        var body = Body(new Spec("l1.bin", RandomBytes(100, 3)), new Spec("l2.bin", RandomBytes(100, 4)));
        var header = new Dictionary<string, object?> { ["cmd"] = "put_files", ["id"] = 1, ["count"] = 2, ["bodysize"] = body.Length };
        foreach (var property in JsonDocument.Parse(overrides).RootElement.EnumerateObject())
            header[property.Name] = property.Value.ValueKind == JsonValueKind.Null ? null : property.Value.Clone();
        Assert.Equal(code, await Peer.AskAsync(header, body));
        Assert.False(File.Exists(Root("l1.bin")));
        Assert.False(File.Exists(Root("l2.bin")));
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task A_body_whose_lengths_or_names_lie_stores_nothing()
    {
        var first = new Spec("first.bin", RandomBytes(64, 5));
        var one = Body(first);
        // A content length past the end of the body: the last byte cut off.
        Assert.Equal("field_invalid", await Peer.AskAsync(Header(1, one[..^1]), one[..^1]));
        // A name that keeps more of the previous name than it had.
        byte[] keepsTooMuch = [.. one, 20, 1, (byte)'x', 0, 0, .. ChecksumAlgorithm.Xxh3.Hash([])];
        Assert.Equal("field_invalid", await Peer.AskAsync(Header(2, keepsTooMuch), keepsTooMuch));
        // A name that is not UTF-8, and unknown flags.
        byte[] notUtf8 = [.. one, 0, 1, 0xFF, 0, 0, .. ChecksumAlgorithm.Xxh3.Hash([])];
        Assert.Equal("field_invalid", await Peer.AskAsync(Header(2, notUtf8), notUtf8));
        byte[] flags = [.. one, 0, 1, (byte)'y', 0x80 | 8, 0, .. ChecksumAlgorithm.Xxh3.Hash([])];
        Assert.Equal("field_invalid", await Peer.AskAsync(Header(2, flags), flags));
        Assert.False(File.Exists(Root("first.bin")));
        Assert.False(File.Exists(Root("y")));
        await AssertStillServingAsync();
    }

    [Theory]
    [InlineData("../escape.bin", "path_escapes_root")]
    [InlineData("d/../../escape.bin", "path_escapes_root")]
    [InlineData("/abs.bin", "path_invalid")]
    [InlineData("bad\\name", "path_invalid")]
    [InlineData("", "path_invalid")]
    [InlineData("./", "path_invalid")]
    public async Task A_name_that_escapes_or_is_malformed_refuses_the_whole_frame(string name, string code)
    {
        var body = Body(new Spec("ok.bin", RandomBytes(10, 6)), new Spec(name, RandomBytes(10, 7)));
        Assert.Equal(code, await Peer.AskAsync(Header(2, body), body));
        Assert.False(File.Exists(Root("ok.bin")));
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(Server.Root)!, "escape.bin")));
        await AssertStillServingAsync();
    }

    [Theory]
    [InlineData("twice.bin", "twice.bin")]
    [InlineData("twice.bin", "./twice.bin")]
    [InlineData("d/twice.bin", "d//twice.bin")]
    public async Task A_file_named_twice_refuses_the_whole_frame(string first, string second)
    {
        Directory.CreateDirectory(Root("d"));
        var body = Body(new Spec(first, RandomBytes(10, 8)), new Spec("other.bin", RandomBytes(10, 9)), new Spec(second, RandomBytes(11, 10)));
        Assert.Equal("field_invalid", await Peer.AskAsync(Header(3, body), body));
        Assert.False(File.Exists(Root(first)));
        Assert.False(File.Exists(Root("other.bin")));
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task A_body_over_16_MiB_is_refused_before_it_is_read_and_skipped()
    {
        var data = new byte[(int)PutFilesMessage.MaxBodySize - 20];
        var body = Body(new Spec("big1.bin", data), new Spec("big2.bin", new byte[100]));
        Assert.True(body.Length > PutFilesMessage.MaxBodySize);
        Assert.Equal("field_invalid", await Peer.AskAsync(Header(2, body), body));
        Assert.False(File.Exists(Root("big1.bin")));
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task The_quota_refuses_the_files_that_do_not_fit_and_stores_the_others()
    {
        await using var server = await TestServer.StartAsync(o => o with { QuotaBytes = 10_000 });
        await using var peer = await SyncPeer.ConnectAsync(server);
        var body = Body(new Spec("a.bin", RandomBytes(6000, 11)), new Spec("b.bin", RandomBytes(6000, 12)), new Spec("c.bin", RandomBytes(3000, 13)));
        await peer.SendAsync(Header(3, body), body);
        var (done, failures) = Reply(await peer.ReadAsync());
        Assert.Equal(1, done.Failed);
        Assert.Equal((1, "quota_exceeded"), (failures[0].Index, failures[0].Code));
        Assert.Equal(["a.bin", "c.bin"], Directory.GetFileSystemEntries(server.Root).Select(Path.GetFileName).Order());
    }

    public enum Peers { Both, OldClient, OldServer }

    [Theory]
    [InlineData(Peers.Both)]
    [InlineData(Peers.OldClient)]
    [InlineData(Peers.OldServer)]
    public async Task A_push_of_small_files_arrives_whole_whichever_side_knows_put_files(Peers peers)
    {
        await using var server = peers == Peers.OldServer
            ? await TestServer.StartAsync(replace: services =>
            {
                var handler = Assert.Single(services, d => d.ImplementationType?.Name == "PutFilesHandler");
                services.Remove(handler);
            })
            : await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        client.PutFilesEnabled = peers != Peers.OldClient;
        Assert.Equal(peers != Peers.OldServer, client.ServerSupports("put_files"));
        using var local = new TempDirectory("ferry-putfiles");
        var pushes = new List<FilePush>();
        for (var i = 0; i < 300; i++)
        {
            var path = local.Combine($"f{i:000}.bin");
            await File.WriteAllBytesAsync(path, RandomBytes(i % 7 == 0 ? 0 : 100 + i, 20 + i));
            pushes.Add(new FilePush(path, $"p/f{i:000}.bin", new FileInfo(path).Length, 0x1A0, Ns + i, [], 0));
        }
        Directory.CreateDirectory(Path.Combine(server.Root, "p"));
        var outcomes = await new RemoteTree(client).PushFilesAsync(pushes, new FileSyncOptions(), NullObserver.Instance, TestTimeouts.Token());
        Assert.All(outcomes, o => Assert.Null(o.ErrorCode));
        foreach (var push in pushes)
        {
            var stored = Path.Combine(server.Root, push.RemotePath);
            Assert.Equal(await File.ReadAllBytesAsync(push.LocalPath), await File.ReadAllBytesAsync(stored));
            Assert.Equal((UnixFileMode)0x1A0, File.GetUnixFileMode(stored));
        }
    }

    private sealed class NullObserver : IFileSyncObserver
    {
        public static NullObserver Instance { get; } = new();
        public void FileFinished(FileSyncOutcome outcome) { }
        public void DataMoved(long bytes) { }
    }
}
