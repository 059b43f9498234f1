using System.Text;
using System.Text.Json;
using Ferry.Client;
using Ferry.Client.Sync;
using Ferry.Client.Transfers;
using Ferry.Protocol.Files;
using Ferry.Protocol.Messages;
using Ferry.Sync.Batching;
using Ferry.Testing;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests.Sync;

/// <summary>
/// get_files (docs/protocol.md §5.9.8): many small files asked for in one request and sent back in frames of packed
/// records; files that cannot be sent listed with their codes while the others come; requests that lie refused whole
/// with the connection still serving; and peers from before it.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class GetFilesTests : SyncWireTest
{
    private const long Ns = 1_700_000_000_123_456_789;

    private static object Header(int count, byte[] body, long id = 1) => new { cmd = "get_files", id, count, bodysize = body.Length };

    /// <summary>The records of every file_records frame up to get_files_done, and that frame with its failures.</summary>
    private async Task<(List<FileRecord> Records, GetFilesDoneMessage Done, List<PutFilesFailure> Failures, int Frames)> ReadAnswerAsync(long id)
    {
        var records = new List<FileRecord>();
        var frames = 0;
        while (true)
        {
            var frame = await Peer.ReadAsync();
            if (frame.Command == "get_files_done")
            {
                var done = JsonSerializer.Deserialize(frame.Json, FerryJsonContext.Default.GetFilesDoneMessage)!;
                Assert.Equal(id, done.Id);
                var failures = frame.Body.Length == 0 ? [] : JsonSerializer.Deserialize(frame.Body, FerryJsonContext.Default.ListPutFilesFailure)!;
                return (records, done, failures, frames);
            }
            Assert.Equal("file_records", frame.Command);
            var message = JsonSerializer.Deserialize(frame.Json, FerryJsonContext.Default.FileRecordsMessage)!;
            Assert.Equal(id, message.Id);
            Assert.True(frame.Body.Length <= FileRecordsMessage.MaxBodySize);
            records.AddRange(FileRecordReader.ReadAll(frame.Body, message.Count));
            frames++;
        }
    }

    /// <summary>The connection still answers after whatever came before.</summary>
    private async Task AssertStillServingAsync()
    {
        await File.WriteAllTextAsync(Root("after.txt"), "after");
        var body = FileNameList.Encode(["after.txt"]);
        await Peer.SendAsync(Header(1, body, id: 77), body);
        var (records, done, failures, _) = await ReadAnswerAsync(77);
        Assert.Equal((1, 1, 0), (done.Count, done.Sent, done.Failed));
        Assert.Empty(failures);
        Assert.Equal("after", Encoding.UTF8.GetString(Assert.Single(records).Content.Span));
    }

    [Fact]
    public async Task Many_files_come_in_records_with_mode_time_and_hash_and_one_done()
    {
        Assert.Contains("get_files", Peer.Features);
        Directory.CreateDirectory(Root("d"));
        var names = new List<string>();
        for (var i = 0; i < 60; i++)
        {
            var name = $"d/f{i:000}.bin";
            await File.WriteAllBytesAsync(Root(name), RandomBytes(i * 41, i));
            File.SetUnixFileMode(Root(name), (UnixFileMode)(0x180 + i % 8));
            File.SetLastWriteTimeUtc(Root(name), DateTime.UnixEpoch.AddTicks((Ns + i * 1000) / 100));
            names.Add(name);
        }
        var body = FileNameList.Encode(names);
        await Peer.SendAsync(Header(names.Count, body, id: 9), body);
        var (records, done, failures, _) = await ReadAnswerAsync(9);
        Assert.Equal((names.Count, names.Count, 0), (done.Count, done.Sent, done.Failed));
        Assert.Empty(failures);
        Assert.Equal(names, records.Select(r => r.Name));
        for (var i = 0; i < names.Count; i++)
        {
            var r = records[i];
            Assert.Equal(await File.ReadAllBytesAsync(Root(names[i])), r.Content.ToArray());
            Assert.Equal(ChecksumAlgorithm.Xxh3.Hash(r.Content.Span), r.Hash.ToArray());
            Assert.Equal(0x180 + i % 8, r.Mode);
            Assert.Equal((Ns + i * 1000) / 100 * 100, r.ModifiedNs);
            Assert.False(r.Force);
        }
    }

    [Fact]
    public async Task Frames_stay_within_4_MiB_and_files_over_1_MiB_are_refused_as_too_large()
    {
        var names = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            await File.WriteAllBytesAsync(Root($"m{i:00}.bin"), RandomBytes(900_000, 30 + i));
            names.Add($"m{i:00}.bin");
        }
        await File.WriteAllBytesAsync(Root("huge.bin"), new byte[GetFilesMessage.MaxFileSize + 1]);
        names.Insert(5, "huge.bin");
        var body = FileNameList.Encode(names);
        await Peer.SendAsync(Header(names.Count, body), body);
        var (records, done, failures, frames) = await ReadAnswerAsync(1);
        Assert.Equal((13, 12, 1), (done.Count, done.Sent, done.Failed));
        Assert.Equal((5, "file_too_large"), (failures[0].Index, failures[0].Code));
        Assert.True(frames >= 3, $"{frames} frames for 12 files of 900 kB");
        Assert.Equal(names.Where(n => n != "huge.bin"), records.Select(r => r.Name));
    }

    [Fact]
    public async Task Files_that_cannot_be_sent_are_listed_by_index_and_the_others_still_come()
    {
        await File.WriteAllTextAsync(Root("a.txt"), "a");
        await File.WriteAllTextAsync(Root("z.txt"), "z");
        Directory.CreateDirectory(Root("dir"));
        var outside = Path.Combine(Outside.Path, "secret.txt");
        await File.WriteAllTextAsync(outside, "secret");
        File.CreateSymbolicLink(Root("out.txt"), outside);
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Root("pipe")))
            await mkfifo.WaitForExitAsync(TestTimeouts.Token());
        string[] names = ["a.txt", "missing.txt", "dir", "out.txt", "../escape.txt", "pipe", "", "bad\\name", new string('n', 300), ".ferry-part.x", "z.txt"];
        var body = FileNameList.Encode(names);
        await Peer.SendAsync(Header(names.Length, body), body);
        var (records, done, failures, _) = await ReadAnswerAsync(1);
        Assert.Equal((names.Length, 2, names.Length - 2), (done.Count, done.Sent, done.Failed));
        Assert.Equal(["a.txt", "z.txt"], records.Select(r => r.Name));
        Assert.Equal([(1, "not_found"), (2, "is_a_directory"), (3, "path_escapes_root"), (4, "path_escapes_root"), (5, "io_error"),
            (6, "is_a_directory"), (7, "path_invalid"), (8, "path_invalid"), (9, "path_invalid")], failures.Select(f => (f.Index, f.Code!)));
        Assert.All(failures, f => Assert.False(string.IsNullOrEmpty(f.Message)));
        Assert.DoesNotContain(records, r => Encoding.UTF8.GetString(r.Content.Span).Contains("secret"));
        await AssertStillServingAsync();
    }

    public static TheoryData<string> LyingHeaders => new()
    {
        """{"id":null}""",
        """{"count":null}""",
        """{"count":0}""",
        """{"count":1025}""",
        """{"count":3}""",     // more names than the body holds
        """{"count":1}""",     // fewer: bytes follow the last name
        """{"count":1000}""",  // more than the body could hold at all (refused before it is read)
    };

    [Theory]
    [MemberData(nameof(LyingHeaders))]
    public async Task A_request_whose_count_or_id_lies_is_refused_whole(string overrides)
    {
        await File.WriteAllTextAsync(Root("l1.txt"), "1");
        await File.WriteAllTextAsync(Root("l2.txt"), "2");
        var body = FileNameList.Encode(["l1.txt", "l2.txt"]);
        var header = new Dictionary<string, object?> { ["cmd"] = "get_files", ["id"] = 1, ["count"] = 2, ["bodysize"] = body.Length };
        foreach (var property in JsonDocument.Parse(overrides).RootElement.EnumerateObject())
            header[property.Name] = property.Value.ValueKind == JsonValueKind.Null ? null : property.Value.Clone();
        Assert.Equal("field_invalid", await Peer.AskAsync(header, body));
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Too_many_names_huge_names_a_huge_body_and_duplicates_are_refused_whole()
    {
        var many = FileNameList.Encode(Enumerable.Range(0, 1025).Select(i => $"n{i}"));
        Assert.Equal("field_invalid", await Peer.AskAsync(Header(1025, many), many));
        // A name over 4096 bytes, written by hand (the encoder refuses it): keep 0, add 5000.
        byte[] huge = [0, 0x88, 0x27, .. Enumerable.Repeat((byte)'h', 5000)];
        Assert.Equal("field_invalid", await Peer.AskAsync(Header(1, huge), huge));
        var big = FileNameList.Encode(Enumerable.Range(0, 300).Select(i => $"{i:000}/" + new string('b', 4000)));
        Assert.True(big.Length > GetFilesMessage.MaxBodySize);
        Assert.Equal("field_invalid", await Peer.AskAsync(Header(300, big), big));
        await File.WriteAllTextAsync(Root("twice.txt"), "t");
        foreach (var second in new[] { "twice.txt", "./twice.txt", "d/../twice.txt" })
        {
            var body = FileNameList.Encode(["twice.txt", "other.txt", second]);
            Assert.Equal("field_invalid", await Peer.AskAsync(Header(3, body), body));
        }
        // Names that keep more of the previous name than it had, or are not UTF-8.
        byte[] keeps = [0, 1, (byte)'a', 5, 1, (byte)'b'];
        Assert.Equal("field_invalid", await Peer.AskAsync(Header(2, keeps), keeps));
        byte[] notUtf8 = [0, 2, 0xC3, 0x28];
        Assert.Equal("field_invalid", await Peer.AskAsync(Header(1, notUtf8), notUtf8));
        await AssertStillServingAsync();
    }

    public enum Peers { Both, OldClient, OldServer }

    private static Task<TestServer> StartServerAsync(Peers peers) => peers == Peers.OldServer
        ? TestServer.StartAsync(replace: services => services.Remove(Assert.Single(services, d => d.ImplementationType?.Name == "GetFilesHandler")))
        : TestServer.StartAsync();

    [Theory]
    [InlineData(Peers.Both)]
    [InlineData(Peers.OldClient)]
    [InlineData(Peers.OldServer)]
    public async Task A_recursive_get_of_small_files_arrives_whole_whichever_side_knows_get_files(Peers peers)
    {
        await using var server = await StartServerAsync(peers);
        await using var client = await server.ConnectAsync();
        client.GetFilesEnabled = peers != Peers.OldClient;
        Assert.Equal(peers != Peers.OldServer, client.ServerSupports("get_files"));
        var expected = new Dictionary<string, byte[]>();
        for (var i = 0; i < 300; i++)
        {
            var name = $"t/g{i % 3}/f{i:000}.bin";
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(server.Root, name))!);
            // Mostly small files, with a few over the packing limit and one empty.
            var data = RandomBytes(i == 7 ? 0 : i % 50 == 0 ? 400_000 : 100 + i * 13, 100 + i);
            await File.WriteAllBytesAsync(Path.Combine(server.Root, name), data);
            File.SetLastWriteTimeUtc(Path.Combine(server.Root, name), DateTime.UnixEpoch.AddTicks((Ns + i) / 100));
            expected[name["t/".Length..]] = data;
        }
        using var local = new TempDirectory("ferry-getfiles");
        var target = local.Combine("copy");

        var result = await client.GetTreeAsync("t", target, cancellationToken: TestTimeouts.Token());

        Assert.Empty(result.Failed);
        Assert.Equal(300, result.Completed.Count);
        foreach (var (name, data) in expected)
        {
            var path = Path.Combine(target, name);
            Assert.Equal(data, await File.ReadAllBytesAsync(path));
            // A get carries the time in whole seconds, a record to the nanosecond: the small files show which way they came.
            var remoteTicks = File.GetLastWriteTimeUtc(Path.Combine(server.Root, "t", name)).Ticks;
            var localTicks = File.GetLastWriteTimeUtc(path).Ticks;
            if (peers == Peers.Both && data.Length <= FerryClient.PackGetMaxSize)
                Assert.Equal(remoteTicks, localTicks);
            else
                Assert.Equal(remoteTicks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, localTicks);
        }
        Assert.Empty(Directory.EnumerateFiles(target, ".ferry-part.*", SearchOption.AllDirectories));
    }

    [Theory]
    [InlineData(Peers.Both)]
    [InlineData(Peers.OldServer)]
    public async Task A_sync_pull_of_small_files_arrives_whole_with_mode_and_time(Peers peers)
    {
        await using var server = await StartServerAsync(peers);
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory("ferry-getfiles-pull");
        var pulls = new List<FilePull>();
        Directory.CreateDirectory(Path.Combine(server.Root, "p"));
        for (var i = 0; i < 200; i++)
        {
            var remote = $"p/f{i:000}.bin";
            await File.WriteAllBytesAsync(Path.Combine(server.Root, remote), RandomBytes(i % 9 == 0 ? 0 : 4096, 200 + i));
            pulls.Add(new FilePull(remote, local.Combine($"f{i:000}.bin"), i % 9 == 0 ? 0 : 4096, 0x1A0, Ns + i, [], 0));
        }
        // One already there with other content: a pull replaces it.
        await File.WriteAllTextAsync(pulls[3].LocalPath, "old");

        var outcomes = await new RemoteTree(client).PullFilesAsync(pulls, new FileSyncOptions(), NullObserver.Instance, TestTimeouts.Token());

        Assert.All(outcomes, o => Assert.Null(o.ErrorCode));
        foreach (var pull in pulls)
        {
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(server.Root, pull.RemotePath)), await File.ReadAllBytesAsync(pull.LocalPath));
            Assert.Equal((UnixFileMode)0x1A0, File.GetUnixFileMode(pull.LocalPath));
            Assert.Equal(pull.ModifiedNs / 100, (File.GetLastWriteTimeUtc(pull.LocalPath) - DateTime.UnixEpoch).Ticks);
        }
        Assert.Empty(Directory.EnumerateFiles(local.Path, ".ferry-part.*"));
    }

    [Fact]
    public async Task Files_refused_in_a_get_files_fail_alone_and_a_file_grown_past_the_limit_comes_by_get()
    {
        await using var client = await Server.ConnectAsync();
        Directory.CreateDirectory(Root("r"));
        await File.WriteAllTextAsync(Root("r/a.txt"), "a");
        await File.WriteAllTextAsync(Root("r/c.txt"), "c");
        // Listed small, but grown past what a record carries by the time it is asked for.
        var grown = RandomBytes((int)GetFilesMessage.MaxFileSize + 10, 5);
        await File.WriteAllBytesAsync(Root("r/grown.bin"), grown);
        using var local = new TempDirectory("ferry-getfiles-refused");
        FileTransfer T(string name) => new(local.Combine(name), "r/" + name);
        var items = new[] { "a.txt", "gone.txt", "grown.bin", "c.txt" }.Select(n =>
        {
            var item = FerryClient.PrepareGet(T(n), GetOptions.Default);
            item.ListedSize = 1;
            return item;
        }).ToList();

        var result = await client.GetItemsAsync(items, new GetRun(GetOptions.Default, TransferObserver.None), TestTimeouts.Token());

        Assert.Equal(["a.txt", "c.txt", "grown.bin"], result.Completed.Select(r => Path.GetFileName(r.LocalPath)).Order(StringComparer.Ordinal));
        var failure = Assert.Single(result.Failed);
        Assert.Equal(("r/gone.txt", Ferry.Protocol.Errors.FerryErrorCode.NotFound), (failure.RemotePath, failure.Code));
        Assert.Equal(grown, await File.ReadAllBytesAsync(local.Combine("grown.bin")));
        Assert.False(File.Exists(local.Combine("gone.txt")));
        Assert.False(client.IsBroken);
    }

    private sealed class NullObserver : IFileSyncObserver
    {
        public static NullObserver Instance { get; } = new();
        public void FileFinished(FileSyncOutcome outcome) { }
        public void DataMoved(long bytes) { }
    }
}
