using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Protocol.Auth;
using Ferry.Server.Auth;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>What the server creates for a user is the user's alone by default, whatever the umask (docs/security.md).</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class DataPermissionsTests
{
    private const UnixFileMode Rw = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Rwx = Rw | UnixFileMode.UserExecute;

    private static async Task<(string Home, UnixFileMode HomeMode, UnixFileMode FileMode, UnixFileMode FolderMode)> UploadAsync(UnixFileMode? fileMode)
    {
        var key = Handshake.NewKey();
        await using var server = await TestServer.StartAsync(o =>
        {
            var options = o with { RequireAuthentication = true };
            if (fileMode is { } mode)
                options = options with { DataFileMode = mode };
            Directory.CreateDirectory(options.StateDirectory);
            UsersFile.Save(options.EffectiveUsersFile, [new UserAccount { Name = "alice", Key = key }]);
            return options;
        });
        using var local = new TempDirectory("ferry-permissions-local");
        var source = local.Combine("note.txt");
        await File.WriteAllTextAsync(source, "private\n");
        using var known = new TempDirectory("ferry-permissions-known");
        await using var client = await server.ConnectAsync(new FerryClientOptions
        {
            UseTls = false,
            Credentials = new ClientCredentials("alice", key),
            TrustStore = new KnownServers(known.Combine("known_servers")),
        });
        await client.MkdirAsync("folder", cancellationToken: TestTimeouts.Token());
        await client.PutFileAsync(source, "folder/note.txt", cancellationToken: TestTimeouts.Token());
        var home = Path.Combine(server.Root, "alice");
        return (home, File.GetUnixFileMode(home), File.GetUnixFileMode(Path.Combine(home, "folder", "note.txt")), File.GetUnixFileMode(Path.Combine(home, "folder")));
    }

    [Fact]
    public async Task Homes_folders_and_uploads_are_owner_only_by_default()
    {
        var (_, home, file, folder) = await UploadAsync(null);
        Assert.Equal(Rwx, home);
        Assert.Equal(Rwx, folder);
        Assert.Equal(Rw, file);
    }

    [Fact]
    public async Task A_setting_may_let_the_group_read()
    {
        var (_, home, file, folder) = await UploadAsync(Rw | UnixFileMode.GroupRead);
        Assert.Equal(Rwx | UnixFileMode.GroupRead | UnixFileMode.GroupExecute, home);
        Assert.Equal(Rwx | UnixFileMode.GroupRead | UnixFileMode.GroupExecute, folder);
        Assert.Equal(Rw | UnixFileMode.GroupRead, file);
    }
}
