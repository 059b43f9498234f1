using System.Text;
using System.Text.Json;
using Ferry.Server.Storage;
using Ferry.Testing;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary>
/// mkdir -p walks a path once, and paths deeper or longer than the server accepts get <c>path_too_long</c> before any
/// walk (docs/protocol.md §5.1, docs/security.md "Resource exhaustion").
/// </summary>
public class PathLimitTests
{
    private static async Task<string> MkdirAsync(RawConnection raw, string path)
    {
        await raw.SendAsync(Json(new { cmd = "mkdir", path, parents = true }));
        var reply = (await raw.ReadAsync())!;
        return reply.Command == "error" ? JsonDocument.Parse(reply.Json).RootElement.GetProperty("code").GetString()! : reply.Command;
    }

    private static string Deep(int levels) => string.Join('/', Enumerable.Repeat("d", levels));

    /// <summary>A path of exactly <paramref name="bytes"/> bytes: names of 200 bytes and a shorter last one.</summary>
    private static string OfLength(int bytes)
    {
        var path = new StringBuilder();
        while (bytes - path.Length > 201)
            path.Append('n', 200).Append('/');
        path.Append('e', bytes - path.Length);
        return path.ToString();
    }

    [Fact]
    public async Task Mkdir_p_walks_the_path_once_and_refuses_one_level_too_deep()
    {
        await using var server = await TestServer.StartAsync();
        var jail = ((LocalFileStore)((IFileStoreProvider)server.Services.GetService(typeof(IFileStoreProvider))!).ForEveryone()).Jail;
        await using var raw = await HelloAsync(server);

        var before = jail.LevelsWalked;
        Assert.Equal("ok", await MkdirAsync(raw, Deep(PathJail.MaxDepth)));
        var walked = jail.LevelsWalked - before;
        // One step per level (resolving every prefix from the root would take 256 * 257 / 2 = 32896).
        Assert.True(walked <= PathJail.MaxDepth, $"{walked} levels walked for a path of {PathJail.MaxDepth}");
        Assert.True(Directory.Exists(Path.Combine(server.Root, Deep(PathJail.MaxDepth))));

        before = jail.LevelsWalked;
        Assert.Equal("path_too_long", await MkdirAsync(raw, Deep(PathJail.MaxDepth + 1)));
        Assert.Equal(0, jail.LevelsWalked - before); // refused before any walk
        Assert.False(Directory.Exists(Path.Combine(server.Root, Deep(PathJail.MaxDepth + 1))));

        // The limit holds for every command, and the connection goes on.
        await raw.SendAsync(Json(new { cmd = "put", id = 1, path = Deep(PathJail.MaxDepth + 1), size = 1, checksum = "xxh3-128" }));
        Assert.Equal(("path_too_long", false), await raw.ReadErrorAsync());
        Assert.Equal("done", (await UploadAsync(raw, Deep(PathJail.MaxDepth - 1) + "/f.bin", RandomBytes(10, 1))).Command);
    }

    [Fact]
    public async Task A_path_longer_than_path_max_under_the_root_is_path_too_long_and_one_byte_shorter_works()
    {
        await using var server = await TestServer.StartAsync();
        await using var raw = await HelloAsync(server);
        var root = ((LocalFileStore)((IFileStoreProvider)server.Services.GetService(typeof(IFileStoreProvider))!).ForEveryone()).RootPath;
        var room = PathJail.MaxLocalPathBytes - Encoding.UTF8.GetByteCount(root) - 1;

        Assert.Equal("path_too_long", await MkdirAsync(raw, OfLength(room + 1)));
        Assert.Equal("ok", await MkdirAsync(raw, OfLength(room)));
        Assert.True(Directory.Exists(Path.Combine(root, OfLength(room))));
    }
}
