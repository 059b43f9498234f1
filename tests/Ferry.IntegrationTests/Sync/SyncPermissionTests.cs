using Ferry.Protocol.Auth;
using Ferry.Server.Auth;
using Ferry.Testing;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests.Sync;

/// <summary>The sync commands under login: permissions (docs/protocol.md §5.9) and homes.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class SyncPermissionTests
{
    private static readonly byte[] s_writerKey = Handshake.NewKey();
    private static readonly byte[] s_readerKey = Handshake.NewKey();

    private static Task<TestServer> StartAsync() => TestServer.StartAsync(o =>
    {
        var options = o with { RequireAuthentication = true, UseTls = false };
        Directory.CreateDirectory(options.StateDirectory);
        UsersFile.Save(options.EffectiveUsersFile,
        [
            new UserAccount { Name = "writer", Key = s_writerKey },
            new UserAccount { Name = "reader", Key = s_readerKey, Permissions = Permissions.Read },
        ]);
        return options;
    });

    [Fact]
    public async Task A_read_only_user_may_scan_and_chunk_but_not_change_anything()
    {
        await using var server = await StartAsync();
        var home = Path.Combine(server.Root, "reader");
        Directory.CreateDirectory(home);
        var data = RandomBytes(20_000, 50);
        await File.WriteAllBytesAsync(Path.Combine(home, "r.bin"), data);
        await using var peer = await SyncPeer.LoginAsync(server, "reader", s_readerKey);

        await peer.SendAsync(new { cmd = "scan", path = "", hashes = true });
        var page = await peer.ReadAsync();
        Assert.Equal("scan_list", page.Command);
        Assert.Contains(Hex(data), System.Text.Encoding.UTF8.GetString(page.Body));
        Assert.Equal("chunk_list", await peer.AskAsync(new { cmd = "chunks", id = 1, path = "r.bin", avg = 1024 }));

        Assert.Equal("permission_denied", await peer.AskAsync(new { cmd = "setattr", path = "r.bin", mode = 511 }));
        Assert.Equal("permission_denied", await peer.AskAsync(new { cmd = "symlink", path = "l", target = "r.bin" }));
        var list = DeltaPutTests.ChunkListOf(data, 1024);
        Assert.Equal("permission_denied", await peer.AskAsync(
            new { cmd = "put", id = 2, path = "r.bin", size = data.Length, force = true, basis = new[] { "r.bin" }, avg = 1024, bodysize = list.Length }, list));
        Assert.Equal(["r.bin"], Directory.GetFileSystemEntries(home).Select(Path.GetFileName));
        Assert.NotEqual(UnixFileMode.OtherExecute, File.GetUnixFileMode(Path.Combine(home, "r.bin")) & UnixFileMode.OtherExecute);
    }

    [Fact]
    public async Task A_user_cannot_use_another_users_files_as_a_basis_or_scan_them()
    {
        await using var server = await StartAsync();
        Directory.CreateDirectory(Path.Combine(server.Root, "reader"));
        var secret = RandomBytes(50_000, 51);
        await File.WriteAllBytesAsync(Path.Combine(server.Root, "reader", "secret.bin"), secret);
        await using var peer = await SyncPeer.LoginAsync(server, "writer", s_writerKey);

        var (needed, reply) = await DeltaPutTests.OpenAsync(peer, "guess.bin", secret, ["../reader/secret.bin"], 1024);
        Assert.Equal((null, "path_escapes_root"), (needed, reply));
        Assert.Equal("path_escapes_root", await peer.AskAsync(new { cmd = "scan", path = "../reader" }));
        Assert.Equal("path_escapes_root", await peer.AskAsync(new { cmd = "symlink", path = "l", target = "../reader/secret.bin" }));

        // The writer's delta put works in its own home, and its hash cache lives under the server's state folder.
        (needed, reply) = await DeltaPutTests.OpenAsync(peer, "mine.bin", secret, [], 1024);
        Assert.Equal("put_ready", reply);
        Assert.Equal([(0L, 50_000L)], needed);
        await peer.SendAsync(new { cmd = "put_data", id = 1, offset = 0, bodysize = secret.Length }, secret);
        await peer.SendAsync(new { cmd = "put_end", id = 1, hash = Hex(secret) });
        Assert.Equal("done", await peer.ReadCodeAsync());
        Assert.True(Directory.Exists(Path.Combine(server.Options.StateDirectory, "hash-cache")));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(Path.Combine(server.Root, "writer")), e => Path.GetFileName(e).StartsWith(".ferry-", StringComparison.Ordinal));
    }
}
