using System.Text;
using System.Text.Json;
using Ferry.Protocol.Files;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>The file commands at the frame level (docs/protocol.md §5), against a live server on loopback.</summary>
public class FileProtocolTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private RawConnection _raw = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _raw = await HelloAsync(_server);
    }

    public async Task DisposeAsync()
    {
        await _raw.DisposeAsync();
        await _server.DisposeAsync();
    }

    internal static async Task<RawConnection> HelloAsync(TestServer server)
    {
        var raw = await server.ConnectRawAsync();
        await raw.SendHelloAsync();
        Assert.Equal("hello", (await raw.ReadAsync())!.Command);
        return raw;
    }

    internal static byte[] Json(object header, ReadOnlySpan<byte> body = default) => FrameBytes.Frame(JsonSerializer.Serialize(header), body);

    internal static string Hex(byte[] data, ChecksumAlgorithm? algorithm = null) => Convert.ToHexStringLower((algorithm ?? ChecksumAlgorithm.Xxh3).Hash(data));

    internal static byte[] RandomBytes(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>A whole upload over <paramref name="raw"/>; returns the put_end reply.</summary>
    internal static async Task<ReceivedFrame> UploadAsync(RawConnection raw, string path, byte[] data, bool force = false, string? hash = null, string checksum = "xxh3-128")
    {
        await raw.SendAsync(Json(new { cmd = "put", id = 1, path, size = data.Length, checksum, force }));
        var ready = await raw.ReadAsync();
        if (ready!.Command != "put_ready")
            return ready;
        await raw.SendAsync(Json(new { cmd = "put_data", id = 1, offset = 0, bodysize = data.Length }, data));
        await raw.SendAsync(Json(new { cmd = "put_end", id = 1, hash = hash ?? Hex(data, ChecksumAlgorithm.FromName(checksum)) }));
        return (await raw.ReadAsync())!;
    }

    private static string Code(ReceivedFrame frame) =>
        frame.Command == "error" ? JsonDocument.Parse(frame.Json).RootElement.GetProperty("code").GetString()! : frame.Command;

    [Fact]
    public async Task Put_then_get_round_trips_with_matching_checksums()
    {
        var data = RandomBytes(3_000_000, 1);
        var done = await UploadAsync(_raw, "a.bin", data);
        Assert.Equal("done", done.Command);
        Assert.Equal(Hex(data), JsonDocument.Parse(done.Json).RootElement.GetProperty("hash").GetString());
        Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(_server.Root, "a.bin")));

        await _raw.SendAsync(Json(new { cmd = "get", id = 2, path = "a.bin", offset = 0 }));
        var file = await _raw.ReadAsync();
        Assert.Equal("file", file!.Command);
        Assert.Equal(data, file.Body);
        var end = await _raw.ReadAsync();
        Assert.Equal("done", end!.Command);
        Assert.Equal(Hex(data), JsonDocument.Parse(end.Json).RootElement.GetProperty("hash").GetString());
    }

    [Fact]
    public async Task Sha256_is_available_per_transfer()
    {
        var data = RandomBytes(100_000, 2);
        var done = await UploadAsync(_raw, "s.bin", data, checksum: "sha256");
        Assert.Equal("done", done.Command);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data)), JsonDocument.Parse(done.Json).RootElement.GetProperty("hash").GetString());

        await _raw.SendAsync(Json(new { cmd = "get", id = 2, path = "s.bin", offset = 40_000, checksum = "sha256" }));
        var file = await _raw.ReadAsync();
        Assert.Equal(data.AsSpan(40_000).ToArray(), file!.Body);
        var end = await _raw.ReadAsync();
        // The hash covers the whole file, so a resumed download verifies the part it already had.
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data)), JsonDocument.Parse(end!.Json).RootElement.GetProperty("hash").GetString());
    }

    [Fact]
    public async Task Modification_time_is_kept()
    {
        var data = RandomBytes(5, 9);
        await _raw.SendAsync(Json(new { cmd = "put", id = 1, path = "t.bin", size = 5, mtime = 1_700_000_000 }));
        Assert.Equal("put_ready", (await _raw.ReadAsync())!.Command);
        await _raw.SendAsync(Json(new { cmd = "put_data", id = 1, offset = 0, bodysize = 5 }, data));
        await _raw.SendAsync(Json(new { cmd = "put_end", id = 1, hash = Hex(data) }));
        Assert.Equal("done", (await _raw.ReadAsync())!.Command);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000).UtcDateTime, File.GetLastWriteTimeUtc(Path.Combine(_server.Root, "t.bin")));
    }

    [Fact]
    public async Task Unknown_checksum_is_refused()
    {
        await _raw.SendAsync(Json(new { cmd = "put", id = 1, path = "x", size = 1, checksum = "md5" }));
        Assert.Equal(("checksum_unsupported", false), await _raw.ReadErrorAsync());
    }

    [Fact]
    public async Task Checksum_mismatch_commits_nothing_and_leaves_nothing()
    {
        var data = RandomBytes(10_000, 3);
        var reply = await UploadAsync(_raw, "m.bin", data, hash: new string('0', 32));
        Assert.Equal("checksum_mismatch", Code(reply));
        Assert.Empty(Directory.GetFileSystemEntries(_server.Root));
    }

    [Fact]
    public async Task Existing_file_is_refused_before_any_data_unless_forced()
    {
        await File.WriteAllTextAsync(Path.Combine(_server.Root, "e.txt"), "old");
        await _raw.SendAsync(Json(new { cmd = "put", id = 1, path = "e.txt", size = 3 }));
        Assert.Equal(("already_exists", false), await _raw.ReadErrorAsync());
        Assert.Equal("done", (await UploadAsync(_raw, "e.txt", "new"u8.ToArray(), force: true)).Command);
        Assert.Equal("new", await File.ReadAllTextAsync(Path.Combine(_server.Root, "e.txt")));
    }

    [Fact]
    public async Task Nobody_sees_a_partial_file_under_its_final_name()
    {
        var data = RandomBytes(2_000_000, 4);
        await _raw.SendAsync(Json(new { cmd = "put", id = 1, path = "p.bin", size = data.Length }));
        Assert.Equal("put_ready", (await _raw.ReadAsync())!.Command);
        await _raw.SendAsync(Json(new { cmd = "put_data", id = 1, offset = 0, bodysize = 1_000_000 }, data.AsSpan(0, 1_000_000)));

        // Mid-upload: no final name, and a listing from a second connection does not show the temporary file.
        await using var other = await HelloAsync(_server);
        await other.SendAsync(Json(new { cmd = "ls", path = "" }));
        var listing = await other.ReadAsync();
        Assert.Equal("[]", Encoding.UTF8.GetString(listing!.Body));
        Assert.False(File.Exists(Path.Combine(_server.Root, "p.bin")));

        await _raw.SendAsync(Json(new { cmd = "put_data", id = 1, offset = 1_000_000, bodysize = 1_000_000 }, data.AsSpan(1_000_000)));
        await _raw.SendAsync(Json(new { cmd = "put_end", id = 1, hash = Hex(data) }));
        Assert.Equal("done", (await _raw.ReadAsync())!.Command);
        Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(_server.Root, "p.bin")));
        Assert.Equal(["p.bin"], Directory.GetFileSystemEntries(_server.Root).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Upload_cut_off_midway_leaves_no_final_file_and_resumes_chunk_by_chunk()
    {
        var data = RandomBytes(10 * 1024 * 1024 + 123, 5);
        await using (var first = await HelloAsync(_server))
        {
            await first.SendAsync(Json(new { cmd = "put", id = 9, path = "r.bin", size = data.Length }));
            Assert.Equal("put_ready", (await first.ReadAsync())!.Command);
            // 6 MiB of the body, then the connection dies mid-frame.
            await first.SendAsync(FrameBytes.Concat(Json(new { cmd = "put_data", id = 9, offset = 0, bodysize = data.Length }), data[..(6 * 1024 * 1024)]));
        }
        // The server has noticed the cut (only this test's other connection is left) and kept the partial upload.
        await HostTests.WaitUntilAsync(() => _server.Server.ConnectionCount <= 1);
        Assert.False(File.Exists(Path.Combine(_server.Root, "r.bin")));
        Assert.Equal(2, Directory.GetFiles(_server.Root, ".ferry-part.*").Length);

        await _raw.SendAsync(Json(new { cmd = "put", id = 1, path = "r.bin", size = data.Length, resume = true }));
        var ready = await _raw.ReadAsync();
        var info = JsonDocument.Parse(ready!.Json).RootElement;
        Assert.Equal(4 * 1024 * 1024, info.GetProperty("offset").GetInt64()); // whole 4 MiB chunks only
        Assert.Equal(ChecksumAlgorithm.Xxh3.Hash(data.AsSpan(0, 4 * 1024 * 1024)), ready.Body);

        var offset = (int)info.GetProperty("offset").GetInt64();
        await _raw.SendAsync(Json(new { cmd = "put_data", id = 1, offset, bodysize = data.Length - offset }, data.AsSpan(offset)));
        await _raw.SendAsync(Json(new { cmd = "put_end", id = 1, hash = Hex(data) }));
        Assert.Equal("done", (await _raw.ReadAsync())!.Command);
        Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(_server.Root, "r.bin")));
        Assert.Empty(Directory.GetFiles(_server.Root, ".ferry-part.*"));
    }

    [Fact]
    public async Task A_differing_resent_chunk_is_taken_and_verified()
    {
        var data = RandomBytes(9 * 1024 * 1024, 6);
        var corrupted = (byte[])data.Clone();
        corrupted[5_000_000] ^= 0xFF; // inside chunk 1
        await using (var first = await HelloAsync(_server))
        {
            await first.SendAsync(Json(new { cmd = "put", id = 1, path = "c.bin", size = data.Length }));
            await first.ReadAsync();
            await first.SendAsync(Json(new { cmd = "put_data", id = 1, offset = 0, bodysize = 8 * 1024 * 1024 }, corrupted.AsSpan(0, 8 * 1024 * 1024)));
            await first.SendAsync(Json(new { cmd = "ls", path = "" }));
            await first.ReadAsync(); // the data was processed
        }
        await HostTests.WaitUntilAsync(() => Directory.GetFiles(_server.Root, ".ferry-part.*").Length == 2 && _server.Server.ConnectionCount <= 1);

        await _raw.SendAsync(Json(new { cmd = "put", id = 2, path = "c.bin", size = data.Length, resume = true }));
        var ready = await _raw.ReadAsync();
        Assert.Equal(8 * 1024 * 1024, JsonDocument.Parse(ready!.Json).RootElement.GetProperty("offset").GetInt64());
        var hashes = ready.Body;
        var chunk = 4 * 1024 * 1024;
        for (var i = 0; i < 2; i++)
        {
            var mine = ChecksumAlgorithm.Xxh3.Hash(data.AsSpan(i * chunk, chunk));
            if (!mine.AsSpan().SequenceEqual(hashes.AsSpan(i * 16, 16)))
                await _raw.SendAsync(Json(new { cmd = "put_data", id = 2, offset = i * chunk, bodysize = chunk }, data.AsSpan(i * chunk, chunk)));
        }
        await _raw.SendAsync(Json(new { cmd = "put_data", id = 2, offset = 2 * chunk, bodysize = data.Length - 2 * chunk }, data.AsSpan(2 * chunk)));
        await _raw.SendAsync(Json(new { cmd = "put_end", id = 2, hash = Hex(data) }));
        Assert.Equal("done", (await _raw.ReadAsync())!.Command);
        Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(_server.Root, "c.bin")));
    }

    [Fact]
    public async Task Pipelined_small_uploads_take_two_round_trips()
    {
        var files = Enumerable.Range(0, 200).Select(i => ($"f{i:D3}.txt", RandomBytes(4096, i))).ToList();
        await _raw.SendAsync(FrameBytes.Concat(files.Select((f, i) => Json(new { cmd = "put", id = i, path = f.Item1, size = f.Item2.Length })).ToArray()));
        for (var i = 0; i < files.Count; i++)
            Assert.Equal("put_ready", (await _raw.ReadAsync())!.Command);
        await _raw.SendAsync(FrameBytes.Concat(files.SelectMany((f, i) => new[]
        {
            Json(new { cmd = "put_data", id = i, offset = 0, bodysize = f.Item2.Length }, f.Item2),
            Json(new { cmd = "put_end", id = i, hash = Hex(f.Item2) }),
        }).ToArray()));
        for (var i = 0; i < files.Count; i++)
            Assert.Equal("done", (await _raw.ReadAsync())!.Command);
        foreach (var (name, data) in files)
            Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(_server.Root, name)));
    }

    [Fact]
    public async Task Put_data_for_an_unknown_upload_is_reported_at_put_end()
    {
        await _raw.SendAsync(Json(new { cmd = "put_data", id = 77, offset = 0, bodysize = 5 }, "hello"u8));
        await _raw.SendAsync(Json(new { cmd = "put_end", id = 77, hash = new string('0', 32) }));
        Assert.Equal(("unknown_transfer", false), await _raw.ReadErrorAsync());
    }

    [Fact]
    public async Task Data_beyond_the_declared_size_fails_the_upload()
    {
        await _raw.SendAsync(Json(new { cmd = "put", id = 1, path = "o.bin", size = 4 }));
        await _raw.ReadAsync();
        await _raw.SendAsync(Json(new { cmd = "put_data", id = 1, offset = 0, bodysize = 8 }, "12345678"u8));
        await _raw.SendAsync(Json(new { cmd = "put_end", id = 1, hash = new string('0', 32) }));
        Assert.Equal(("field_invalid", false), await _raw.ReadErrorAsync());
        Assert.Empty(Directory.GetFileSystemEntries(_server.Root));
    }

    [Theory]
    [InlineData(-1)]
    public async Task Negative_size_is_refused(long size)
    {
        await _raw.SendAsync(Json(new { cmd = "put", id = 1, path = "n.bin", size }));
        Assert.Equal(("field_invalid", false), await _raw.ReadErrorAsync());
    }

    [Fact]
    public async Task Non_numeric_size_is_refused()
    {
        await _raw.SendAsync(FrameBytes.Frame("""{"cmd":"put","id":1,"path":"n.bin","size":"12"}"""));
        Assert.Equal(("field_invalid", false), await _raw.ReadErrorAsync());
        await _raw.SendAsync(FrameBytes.Frame("""{"cmd":"put","id":1,"size":12}"""));
        Assert.Equal(("path_invalid", false), await _raw.ReadErrorAsync());
    }

    [Fact]
    public async Task Get_errors_are_clear()
    {
        Directory.CreateDirectory(Path.Combine(_server.Root, "d"));
        await File.WriteAllTextAsync(Path.Combine(_server.Root, "small"), "abc");
        await _raw.SendAsync(Json(new { cmd = "get", id = 1, path = "missing" }));
        Assert.Equal(("not_found", false), await _raw.ReadErrorAsync());
        await _raw.SendAsync(Json(new { cmd = "get", id = 1, path = "d" }));
        Assert.Equal(("is_a_directory", false), await _raw.ReadErrorAsync());
        await _raw.SendAsync(Json(new { cmd = "get", id = 1, path = "small", offset = 4 }));
        Assert.Equal(("field_invalid", false), await _raw.ReadErrorAsync());
    }

    [Fact]
    public async Task Listing_stat_mkdir_rm_and_mv_behave_like_their_shell_namesakes()
    {
        async Task<string> Ask(object header)
        {
            await _raw.SendAsync(Json(header));
            var reply = await _raw.ReadAsync();
            return reply!.Command == "error" ? Code(reply) : reply.Command;
        }

        Assert.Equal("not_found", await Ask(new { cmd = "mkdir", path = "a/b" }));
        Assert.Equal("ok", await Ask(new { cmd = "mkdir", path = "a/b", parents = true }));
        Assert.Equal("ok", await Ask(new { cmd = "mkdir", path = "a/b", parents = true }));
        Assert.Equal("already_exists", await Ask(new { cmd = "mkdir", path = "a" }));
        Assert.Equal("done", (await UploadAsync(_raw, "a/b/f.txt", "12345"u8.ToArray())).Command);

        await _raw.SendAsync(Json(new { cmd = "ls", path = "a", recursive = true }));
        var listing = await _raw.ReadAsync();
        var entries = JsonDocument.Parse(listing!.Body).RootElement.EnumerateArray()
            .Select(e => (e.GetProperty("name").GetString(), e.GetProperty("type").GetString(), e.GetProperty("size").GetInt64())).ToList();
        Assert.Equal([("b", "dir", 0L), ("b/f.txt", "file", 5L)], entries);

        await _raw.SendAsync(Json(new { cmd = "stat", path = "a/b/f.txt" }));
        var stat = JsonDocument.Parse((await _raw.ReadAsync())!.Json).RootElement.GetProperty("entry");
        Assert.Equal(5, stat.GetProperty("size").GetInt64());
        Assert.InRange(stat.GetProperty("mtime").GetInt64(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 5);

        Assert.Equal("directory_not_empty", await Ask(new { cmd = "rm", path = "a" }));
        Assert.Equal("ok", await Ask(new { cmd = "mv", from = "a/b/f.txt", to = "g.txt" }));
        Assert.Equal("done", (await UploadAsync(_raw, "h.txt", "h"u8.ToArray())).Command);
        Assert.Equal("already_exists", await Ask(new { cmd = "mv", from = "g.txt", to = "h.txt" }));
        Assert.Equal("ok", await Ask(new { cmd = "mv", from = "g.txt", to = "h.txt", force = true }));
        Assert.Equal("12345", await File.ReadAllTextAsync(Path.Combine(_server.Root, "h.txt")));
        Assert.Equal("path_invalid", await Ask(new { cmd = "mv", from = "a", to = "a/b/c" }));
        Assert.Equal("ok", await Ask(new { cmd = "rm", path = "a", recursive = true }));
        Assert.Equal("not_found", await Ask(new { cmd = "stat", path = "a" }));
        Assert.Equal("path_invalid", await Ask(new { cmd = "rm", path = "", recursive = true }));
        Assert.True(Directory.Exists(_server.Root));
    }
}
