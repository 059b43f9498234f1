using System.Text;
using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Errors;
using Ferry.Server.Auth;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// A changed users file reaches connections that are already logged in, at their next command (docs/security.md,
/// "Revocation"): each case logs in, uploads once, changes the users file as 'ferry user' would, waits for the server to
/// load it, and uploads again on the same open connection.
/// </summary>
public class RevocationTests : IDisposable
{
    private readonly TempDirectory _work = new("ferry-revocation");

    public void Dispose() => _work.Dispose();

    private static UserAccount Alice(byte[] key, Permissions permissions = Permissions.Read | Permissions.Write) =>
        new() { Name = "alice", Key = key, Permissions = permissions };

    private async Task<(TestServer Server, FerryClient Client)> LoggedInAsync(byte[] key, bool tls)
    {
        var server = await TestServer.StartAsync(o =>
        {
            var options = o with { RequireAuthentication = true, UseTls = tls, UsersFileCheckInterval = TimeSpan.FromMilliseconds(100) };
            Directory.CreateDirectory(options.StateDirectory);
            UsersFile.Save(options.EffectiveUsersFile, [Alice(key), new UserAccount { Name = "bob", Key = Handshake.NewKey() }]);
            return options;
        });
        var client = await FerryClient.ConnectAsync(server.Address, new FerryClientOptions
        {
            UseTls = tls,
            Credentials = new ClientCredentials("alice", key),
            TrustStore = new KnownServers(_work.Combine("known_servers")),
        }, TestTimeouts.Token());
        await File.WriteAllTextAsync(_work.Combine("first.txt"), "first");
        await client.PutFileAsync(_work.Combine("first.txt"), "first.txt", cancellationToken: TestTimeouts.Token());
        return (server, client);
    }

    /// <summary>Rewrites the users file and waits until the server has loaded it.</summary>
    private static async Task ChangeUsersAsync(TestServer server, params UserAccount[] users)
    {
        var reloads = server.Logs.Lines.Count(l => l.EventId.Id == 1011);
        UsersFile.Save(server.Options.EffectiveUsersFile, users);
        await HostTests.WaitUntilAsync(() => server.Logs.Lines.Count(l => l.EventId.Id == 1011) > reloads);
    }

    private async Task<FerryRemoteException> PutAgainFailsAsync(FerryClient client)
    {
        await File.WriteAllTextAsync(_work.Combine("second.txt"), "second");
        return await Assert.ThrowsAsync<FerryRemoteException>(() =>
            client.PutFileAsync(_work.Combine("second.txt"), "second.txt", cancellationToken: TestTimeouts.Token()));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_removed_user_is_refused_on_the_open_connection_at_the_next_command(bool tls)
    {
        var key = Handshake.NewKey();
        var (server, client) = await LoggedInAsync(key, tls);
        await using (server)
        await using (client)
        {
            await ChangeUsersAsync(server, new UserAccount { Name = "bob", Key = Handshake.NewKey() }); // 'ferry user remove alice'
            var refused = await PutAgainFailsAsync(client);
            Assert.Equal(FerryErrorCode.UserRevoked, refused.Code);
            Assert.False(File.Exists(Path.Combine(server.Root, "alice", "second.txt")));
            await HostTests.WaitUntilAsync(() => server.Server.ConnectionCount == 0);
        }
    }

    [Fact]
    public async Task A_replaced_key_ends_the_sessions_that_logged_in_with_the_old_one()
    {
        var key = Handshake.NewKey();
        var (server, client) = await LoggedInAsync(key, tls: false);
        await using (server)
        await using (client)
        {
            await ChangeUsersAsync(server, Alice(Handshake.NewKey()));
            Assert.Equal(FerryErrorCode.UserRevoked, (await PutAgainFailsAsync(client)).Code);
        }
    }

    [Fact]
    public async Task A_dropped_write_permission_refuses_the_next_put_and_the_connection_still_reads()
    {
        var key = Handshake.NewKey();
        var (server, client) = await LoggedInAsync(key, tls: true);
        await using (server)
        await using (client)
        {
            await ChangeUsersAsync(server, Alice(key, Permissions.Read));
            var refused = await PutAgainFailsAsync(client);
            Assert.Equal(FerryErrorCode.PermissionDenied, refused.Code);
            Assert.False(File.Exists(Path.Combine(server.Root, "alice", "second.txt")));

            // Reading is still allowed on the same connection.
            var listed = await client.ListAsync("", cancellationToken: TestTimeouts.Token());
            Assert.Equal(["first.txt"], listed.Select(e => e.Name));
            Assert.Equal("E", Encoding.UTF8.GetString(await client.EchoAsync("e"u8.ToArray(), TestTimeouts.Token())));
        }
    }
}
