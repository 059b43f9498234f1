using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Client.Transfers;
using Ferry.Protocol.Auth;
using Ferry.Server.Auth;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>File transfers through a real login: inside TLS, and on plain TCP where every frame carries a MAC.</summary>
public class AuthenticatedTransferTests : IDisposable
{
    private static readonly byte[] s_key = Handshake.NewKey();
    private readonly TempDirectory _config = new("ferry-client-config");

    public void Dispose() => _config.Dispose();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Put_get_and_tree_transfers_work_after_login(bool tls)
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            var options = o with { RequireAuthentication = true, UseTls = tls };
            Directory.CreateDirectory(options.StateDirectory);
            UsersFile.Save(options.EffectiveUsersFile, [new UserAccount { Name = "carol", Key = s_key }]);
            return options;
        });
        await using var client = await FerryClient.ConnectAsync(server.Address, new FerryClientOptions
        {
            UseTls = tls,
            Credentials = new ClientCredentials("carol", s_key),
            TrustStore = new KnownServers(_config.Combine("known_servers")),
        }, TestTimeouts.Token());
        Assert.Equal("carol", client.User);
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("f.bin"), 9 * 1024 * 1024 + 1, seed: 21);
        for (var i = 0; i < 20; i++)
            TestFiles.CreateText(local.Combine("tree", $"d{i % 3}", $"{i}.txt"), $"file {i}");

        var put = await client.PutFileAsync(source, "f.bin", cancellationToken: TestTimeouts.Token());
        var get = await client.GetFileAsync("f.bin", local.Combine("back.bin"), cancellationToken: TestTimeouts.Token());
        Assert.Equal(put.Hash, get.Hash);
        TestFiles.AssertSame(source, local.Combine("back.bin"));

        var up = await client.PutTreeAsync(local.Combine("tree"), "tree", cancellationToken: TestTimeouts.Token());
        var down = await client.GetTreeAsync("tree", local.Combine("copy"), cancellationToken: TestTimeouts.Token());
        Assert.Empty(up.Failed);
        Assert.Empty(down.Failed);
        Assert.Equal(20, down.Completed.Count);
        Assert.Equal("file 7", File.ReadAllText(local.Combine("copy", "d1", "7.txt")));
        Assert.Contains(await client.ListAsync("", cancellationToken: TestTimeouts.Token()), e => e.Name == "tree" && e.Kind == RemoteEntryKind.Directory);
        Assert.False(client.IsBroken);
    }
}
