using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Protocol.Auth;
using Ferry.Server.Auth;
using Ferry.Server.Hosting;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>A test server that requires login (plain TCP with frame MACs), with users whose keys the test knows.</summary>
internal sealed class LoginServer : IAsyncDisposable
{
    private readonly Dictionary<string, byte[]> _keys;

    private LoginServer(TestServer server, Dictionary<string, byte[]> keys)
    {
        Server = server;
        _keys = keys;
    }

    public TestServer Server { get; }

    /// <param name="users">Name and quota (null: none) of each user; each gets read and write and a fresh key.</param>
    public static async Task<LoginServer> StartAsync(IReadOnlyList<(string Name, long? Quota)> users, Func<FerryServerOptions, FerryServerOptions>? configure = null)
    {
        var keys = users.ToDictionary(u => u.Name, _ => Handshake.NewKey());
        var server = await TestServer.StartAsync(o =>
        {
            var options = o with { RequireAuthentication = true, UseTls = false };
            options = configure?.Invoke(options) ?? options;
            Directory.CreateDirectory(options.StateDirectory);
            UsersFile.Save(options.EffectiveUsersFile, users.Select(u => new UserAccount { Name = u.Name, Key = keys[u.Name], QuotaBytes = u.Quota }).ToList());
            return options;
        });
        return new LoginServer(server, keys);
    }

    /// <summary>Rewrites the users file with new quotas (same keys) and loads it, as SIGHUP would.</summary>
    public void ChangeQuotas(IReadOnlyList<(string Name, long? Quota)> users)
    {
        UsersFile.Save(Server.Options.EffectiveUsersFile, users.Select(u => new UserAccount { Name = u.Name, Key = _keys[u.Name], QuotaBytes = u.Quota }).ToList());
        ((UserDirectory)Server.Services.GetService(typeof(UserDirectory))!).Reload();
    }

    public string Home(string user) => Path.Combine(Server.Root, user);

    /// <summary>The key <paramref name="user"/> was given, for tests that log in by hand (raw frames, other addresses).</summary>
    public byte[] Key(string user) => _keys[user];

    public Task<FerryClient> LoginAsync(string user) =>
        FerryClient.ConnectAsync(Server.Address, new FerryClientOptions { UseTls = false, Credentials = new ClientCredentials(user, _keys[user]) }, TestTimeouts.Token());

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
