using System.Diagnostics;
using System.Text.Json;
using Ferry.Testing;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary>Nothing is read or written outside the root, whatever the path (docs/protocol.md §5.1).</summary>
public class RootJailTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private RawConnection _raw = null!;
    private TempDirectory _outside = null!;

    public async Task InitializeAsync()
    {
        _outside = new TempDirectory("ferry-outside");
        await File.WriteAllTextAsync(_outside.Combine("secret.txt"), "secret");
        _server = await TestServer.StartAsync();
        _raw = await HelloAsync(_server);
    }

    public async Task DisposeAsync()
    {
        await _raw.DisposeAsync();
        await _server.DisposeAsync();
        _outside.Dispose();
    }

    public static TheoryData<string, string> BadPaths => new()
    {
        { "../escape.txt", "path_escapes_root" },
        { "a/../../escape.txt", "path_escapes_root" },
        { "./../escape.txt", "path_escapes_root" },
        { "/etc/passwd", "path_invalid" },
        { "/tmp/escape.txt", "path_invalid" },
        { "C:/Windows/escape.txt", "path_invalid" },
        { "C:escape.txt", "path_invalid" },
        { "./C:escape.txt", "path_invalid" },
        { "a/../C:/escape.txt", "path_invalid" },
        { "..\\escape.txt", "path_invalid" },
        { "a\\b.txt", "path_invalid" },
        { "nul\0byte.txt", "path_invalid" },
        { "line\nbreak.txt", "path_invalid" },
        { "esc\u001b[31m.txt", "path_invalid" },
        { "del\u007f.txt", "path_invalid" },
        { new string('n', 256), "path_invalid" },
        { string.Join('/', Enumerable.Repeat("d", 2100)), "path_invalid" },
        { ".ferry-part.0123", "path_invalid" },
    };

    /// <summary>Every request that names a path, naming <paramref name="path"/> (mv both ways; "x" is the other side).</summary>
    internal static object[] RequestsNaming(string path) =>
    [
        new { cmd = "put", id = 1, path, size = 3 },
        new { cmd = "get", id = 1, path },
        new { cmd = "ls", path },
        new { cmd = "stat", path },
        new { cmd = "mkdir", path, parents = true },
        new { cmd = "rm", path, recursive = true },
        new { cmd = "mv", from = path, to = "x" },
        new { cmd = "mv", from = "x", to = path },
        new { cmd = "hashes", path, chunk_size = 4096, length = 10 },
    ];

    [Theory]
    [MemberData(nameof(BadPaths))]
    public async Task Every_command_refuses_a_bad_path_and_the_connection_stays_usable(string path, string code)
    {
        var requests = RequestsNaming(path);
        await File.WriteAllTextAsync(Path.Combine(_server.Root, "x"), "x");
        foreach (var request in requests)
        {
            await _raw.SendAsync(Json(request));
            var (actual, fatal) = await _raw.ReadErrorAsync();
            Assert.False(fatal);
            // "mv x <bad>" and "mv <bad> x" both name the bad path; either code is a refusal.
            Assert.True(actual == code, $"{JsonSerializer.Serialize(request)} gave {actual}, expected {code}");
        }
        AssertOutsideUntouched();
    }

    [Fact]
    public async Task Classic_upload_with_an_escaping_name_is_refused()
    {
        await using var server = await TestServer.StartAsync(o => o with { InsecureNoAuth = true });
        await using var raw = await server.ConnectRawAsync();
        await raw.SendAsync(FrameBytes.Frame("""{"cmd":"put","filename":"../../escape.txt","filesize":3}""", "abc"u8));
        Assert.Equal(("path_escapes_root", false), await raw.ReadErrorAsync());
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(server.Root)!, "escape.txt")));
    }

    [Fact]
    public async Task Symbolic_links_out_of_the_root_are_refused_and_hidden()
    {
        File.CreateSymbolicLink(Path.Combine(_server.Root, "out-file"), _outside.Combine("secret.txt"));
        Directory.CreateSymbolicLink(Path.Combine(_server.Root, "out-dir"), _outside.Path);
        Directory.CreateSymbolicLink(Path.Combine(_server.Root, "out-rel"), "../" + Path.GetFileName(_outside.Path));
        Directory.CreateDirectory(Path.Combine(_server.Root, "inside"));
        Directory.CreateSymbolicLink(Path.Combine(_server.Root, "in-link"), "inside");

        foreach (var request in new object[]
        {
            new { cmd = "get", id = 1, path = "out-file" },
            new { cmd = "get", id = 1, path = "out-dir/secret.txt" },
            new { cmd = "get", id = 1, path = "out-rel/secret.txt" },
            new { cmd = "ls", path = "out-dir" },
            new { cmd = "put", id = 1, path = "out-dir/new.txt", size = 1 },
            new { cmd = "mkdir", path = "out-dir/sub", parents = true },
            new { cmd = "rm", path = "out-dir/secret.txt" },
            new { cmd = "mv", from = "out-dir/secret.txt", to = "stolen.txt" },
            new { cmd = "mv", from = "inside", to = "out-dir/moved" },
        })
        {
            await _raw.SendAsync(Json(request));
            Assert.Equal(("path_escapes_root", false), await _raw.ReadErrorAsync());
        }

        // Links inside the root work; links out of it are not listed at all.
        Assert.Equal("done", (await UploadAsync(_raw, "in-link/ok.txt", "ok"u8.ToArray())).Command);
        Assert.True(File.Exists(Path.Combine(_server.Root, "inside", "ok.txt")));
        await _raw.SendAsync(Json(new { cmd = "ls", path = "" }));
        var names = JsonDocument.Parse((await _raw.ReadAsync())!.Body).RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
        Assert.Equal(["in-link", "inside"], names);

        // Removing a link removes the link, never its target.
        await _raw.SendAsync(Json(new { cmd = "rm", path = "out-file" }));
        Assert.Equal("ok", (await _raw.ReadAsync())!.Command);
        AssertOutsideUntouched();
    }

    private void AssertOutsideUntouched()
    {
        Assert.Equal(["secret.txt"], Directory.GetFileSystemEntries(_outside.Path).Select(Path.GetFileName));
        Assert.Equal("secret", File.ReadAllText(_outside.Combine("secret.txt")));
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(_server.Root)!, "escape.txt")));
    }
}

/// <summary>Quota, disk full, classic uploads and partial-upload cleanup.</summary>
public class StorageLimitTests
{
    [Fact]
    public async Task Quota_refuses_an_upload_before_any_data_and_keeps_the_connection()
    {
        await using var server = await TestServer.StartAsync(o => o with { QuotaBytes = 10_000 });
        await using var raw = await HelloAsync(server);
        await raw.SendAsync(Json(new { cmd = "put", id = 1, path = "big.bin", size = 10_001 }));
        var (code, fatal) = await raw.ReadErrorAsync();
        Assert.Equal(("quota_exceeded", false), (code, fatal));
        Assert.Equal("done", (await UploadAsync(raw, "a.bin", RandomBytes(6_000, 1))).Command);
        await raw.SendAsync(Json(new { cmd = "put", id = 2, path = "b.bin", size = 5_000 }));
        Assert.Equal(("quota_exceeded", false), await raw.ReadErrorAsync());
        // Replacing a file only needs room for the difference.
        Assert.Equal("done", (await UploadAsync(raw, "a.bin", RandomBytes(9_000, 2), force: true)).Command);
        // Removing frees room.
        await raw.SendAsync(Json(new { cmd = "rm", path = "a.bin" }));
        Assert.Equal("ok", (await raw.ReadAsync())!.Command);
        Assert.Equal("done", (await UploadAsync(raw, "c.bin", RandomBytes(9_500, 3))).Command);
    }

    [Fact]
    public async Task Disk_full_fails_the_upload_cleanly_and_the_server_keeps_serving()
    {
        using var mount = TmpfsMount.Create(sizeBytes: 2 * 1024 * 1024);
        await using var server = await TestServer.StartAsync(o => o with { Root = mount.Path });
        await using var raw = await HelloAsync(server);
        var data = RandomBytes(4 * 1024 * 1024, 7);
        var reply = await UploadAsync(raw, "huge.bin", data);
        Assert.Equal("error", reply.Command);
        Assert.Equal("disk_full", JsonDocument.Parse(reply.Json).RootElement.GetProperty("code").GetString());
        Assert.Empty(Directory.GetFileSystemEntries(mount.Path));

        var small = RandomBytes(100_000, 8);
        Assert.Equal("done", (await UploadAsync(raw, "small.bin", small)).Command);
        Assert.Equal(small, await File.ReadAllBytesAsync(Path.Combine(mount.Path, "small.bin")));
    }

    [Fact]
    public async Task Classic_uploads_without_hello_are_stored_and_get_no_replies()
    {
        await using var server = await TestServer.StartAsync(o => o with { InsecureNoAuth = true });
        await using var raw = await server.ConnectRawAsync();
        var files = Enumerable.Range(0, 3).Select(i => ($"classic{i}.bin", RandomBytes(100_000 * (i + 1), i))).ToList();
        // struct.pack('i', len(head)) + head + bytes, three on one connection.
        await raw.SendAsync(FrameBytes.Concat(files.Select(f => FrameBytes.Frame(
            $$"""{"cmd":"put","filename":"{{f.Item1}}","filesize":{{f.Item2.Length}}}""", f.Item2)).ToArray()));
        raw.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        Assert.Null(await raw.ReadAsync()); // no reply at all, then the server closes
        foreach (var (name, data) in files)
            Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(server.Root, name)));
        Assert.Empty(Directory.GetFiles(server.Root, ".ferry-*"));
    }

    [Fact]
    public async Task Classic_upload_cut_short_leaves_nothing()
    {
        await using var server = await TestServer.StartAsync(o => o with { InsecureNoAuth = true });
        await using (var raw = await server.ConnectRawAsync())
        {
            await raw.SendAsync(FrameBytes.Concat(FrameBytes.Frame("""{"cmd":"put","filename":"cut.bin","filesize":1000000}"""), new byte[300_000]));
        }
        await HostTests.WaitUntilAsync(() => server.Server.ConnectionCount == 0);
        Assert.Empty(Directory.GetFileSystemEntries(server.Root));
    }

    [Fact]
    public async Task Partial_uploads_are_swept_after_their_time()
    {
        await using var server = await TestServer.StartAsync(o => o with { PartialUploadTtl = TimeSpan.FromSeconds(1) });
        await using (var raw = await HelloAsync(server))
        {
            await raw.SendAsync(Json(new { cmd = "put", id = 1, path = "left.bin", size = 1000 }));
            await raw.ReadAsync();
            await raw.SendAsync(Json(new { cmd = "put_data", id = 1, offset = 0, bodysize = 10 }, new byte[10]));
        }
        // A small upload keeps just its part file (no whole chunk to resume, so no .meta).
        await HostTests.WaitUntilAsync(() => Directory.GetFiles(server.Root, ".ferry-part.*").Length == 1 && server.Server.ConnectionCount == 0);
        var watch = Stopwatch.StartNew();
        await HostTests.WaitUntilAsync(() => Directory.GetFiles(server.Root, ".ferry-part.*").Length == 0);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10));
    }
}

/// <summary>A small tmpfs mounted for one test (needs root, which CI has); unmounted on dispose.</summary>
public sealed class TmpfsMount : IDisposable
{
    private TmpfsMount(string path) => Path = path;

    public string Path { get; }

    public static TmpfsMount Create(long sizeBytes)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"ferry-tmpfs-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        Run("mount", "-t", "tmpfs", "-o", $"size={sizeBytes}", "tmpfs", path);
        return new TmpfsMount(path);
    }

    private static void Run(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, UseShellExecute = false })!;
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {error}. This test needs root to mount a small tmpfs.");
    }

    public void Dispose()
    {
        try { Run("umount", "-l", Path); } catch (InvalidOperationException) { }
        try { Directory.Delete(Path); } catch (IOException) { }
    }
}
