using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Protocol.Errors;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// A running 'ferry serve' picks up users added and removed with 'ferry user' — on SIGHUP, or by itself when the users
/// file changes — while connections already logged in keep going.
/// </summary>
public class UsersReloadTests : IDisposable
{
    private readonly TempDirectory _work = new("ferry-reload");

    public void Dispose() => _work.Dispose();

    private string StateDir => _work.Combine("state");

    private async Task<byte[]> AddUserAsync(string name)
    {
        await using var p = FerryProcess.Start(["user", "add", name, "--state-dir", StateDir], _work.Path);
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, p.Stderr);
        var key = p.Stdout.Split('\n').Select(l => l.Trim()).Single(l => l.Length == 44 && l.EndsWith('='));
        return Convert.FromBase64String(key);
    }

    private async Task RemoveUserAsync(string name)
    {
        await using var p = FerryProcess.Start(["user", "remove", name, "--state-dir", StateDir], _work.Path);
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, p.Stderr);
    }

    private FerryProcess StartServer(IDictionary<string, string>? environment = null) =>
        FerryProcess.Start(["serve", "--listen", "127.0.0.1:0", "--state-dir", StateDir, "--root", _work.Combine("data"), "--log-level", "Debug"], _work.Path, environment);

    private Task<FerryClient> LoginAsync(string address, string user, byte[] key) =>
        FerryClient.ConnectAsync(ParseAddress(address), new FerryClientOptions
        {
            Credentials = new ClientCredentials(user, key),
            TrustStore = new KnownServers(_work.Combine("known_servers")),
            // The server is a separate process doing TLS; a loaded machine may take longer than the 10 s default.
            ConnectTimeout = TestTimeouts.Default,
        }, TestTimeouts.Token());

    private static ServerAddress ParseAddress(string text) =>
        ServerAddress.TryParse(text, out var address, out var error) ? address.Value : throw new ArgumentException(error);

    private async Task AssertLoginRefusedAsync(FerryProcess server, string address, string user, byte[] key)
    {
        var ex = await Record.ExceptionAsync(() => LoginAsync(address, user, key));
        Assert.True(ex is FerryException { Code: FerryErrorCode.AuthenticationFailed }, $"{ex}\n{server.Stdout}");
    }

    [Fact]
    public async Task Sighup_loads_added_and_removed_users_and_a_removed_users_open_connection_is_refused()
    {
        var aliceKey = await AddUserAsync("alice");
        // The periodic check is off, so only the signal can make the server see the changes.
        await using var server = StartServer(new Dictionary<string, string> { ["FERRY_USERS_CHECK_INTERVAL"] = "0" });
        var address = await server.WaitForListeningAsync();
        await using var alice = await LoginAsync(address, "alice", aliceKey);

        var bobKey = await AddUserAsync("bob");
        await AssertLoginRefusedAsync(server, address, "bob", bobKey); // not yet loaded

        server.Signal("HUP");
        Assert.Contains("2 user(s)", await server.WaitForOutputAsync("(SIGHUP)"));
        await using (var bob = await LoginAsync(address, "bob", bobKey))
            Assert.Equal("HI"u8.ToArray(), await bob.EchoAsync("hi"u8.ToArray(), TestTimeouts.Token()));

        await RemoveUserAsync("alice");
        server.Signal("HUP");
        Assert.Contains("1 user(s)", await server.WaitForOutputAsync("(SIGHUP)", count: 2));
        await AssertLoginRefusedAsync(server, address, "alice", aliceKey);

        // The connection that logged in before alice was removed is refused at its next command.
        var revoked = await Assert.ThrowsAsync<FerryRemoteException>(() => alice.EchoAsync("still"u8.ToArray(), TestTimeouts.Token()));
        Assert.Equal(FerryErrorCode.UserRevoked, revoked.Code);
        Assert.False(server.HasExited);
    }

    [Fact]
    public async Task A_changed_users_file_is_loaded_without_a_signal()
    {
        var aliceKey = await AddUserAsync("alice");
        await using var server = StartServer(new Dictionary<string, string> { ["FERRY_USERS_CHECK_INTERVAL"] = "0.2" });
        var address = await server.WaitForListeningAsync();

        var bobKey = await AddUserAsync("bob");
        Assert.Contains("2 user(s)", await server.WaitForOutputAsync("(file changed)"));
        try
        {
            await using var bob = await LoginAsync(address, "bob", bobKey);
            Assert.Equal("OK"u8.ToArray(), await bob.EchoAsync("ok"u8.ToArray(), TestTimeouts.Token()));
        }
        catch (Exception ex)
        {
            throw new Xunit.Sdk.XunitException($"{ex}\n{server.Stdout}");
        }

        await RemoveUserAsync("bob");
        Assert.Contains("1 user(s)", await server.WaitForOutputAsync("(file changed)", count: 2));
        await AssertLoginRefusedAsync(server, address, "bob", bobKey);
        await using (var alice = await LoginAsync(address, "alice", aliceKey))
            Assert.Equal("OK"u8.ToArray(), await alice.EchoAsync("ok"u8.ToArray(), TestTimeouts.Token()));
    }

    [Fact]
    public async Task A_malformed_users_file_on_reload_is_logged_and_the_old_users_stay()
    {
        var aliceKey = await AddUserAsync("alice");
        await using var server = StartServer(new Dictionary<string, string> { ["FERRY_USERS_CHECK_INTERVAL"] = "0" });
        var address = await server.WaitForListeningAsync();

        await ReplaceAtomicallyAsync(Path.Combine(StateDir, "users.json"), "{ \"version\": 1, \"users\": [ { \"name\": ");
        server.Signal("HUP");
        var logged = await server.WaitForOutputAsync("not reloaded");
        Assert.Contains("not valid JSON", logged);
        Assert.Contains("The 1 user(s) loaded before stay in force", logged);

        await using var alice = await LoginAsync(address, "alice", aliceKey);
        Assert.Equal("OK"u8.ToArray(), await alice.EchoAsync("ok"u8.ToArray(), TestTimeouts.Token()));
        Assert.False(server.HasExited);
    }

    [Fact]
    public async Task A_broken_users_file_is_reported_once_and_picked_up_again_when_fixed()
    {
        var aliceKey = await AddUserAsync("alice");
        var usersFile = Path.Combine(StateDir, "users.json");
        var good = await File.ReadAllTextAsync(usersFile);
        await using var server = StartServer(new Dictionary<string, string> { ["FERRY_USERS_CHECK_INTERVAL"] = "0.1" });
        var address = await server.WaitForListeningAsync();

        await ReplaceAtomicallyAsync(usersFile, "{ \"version\": 7, \"users\": [] }");
        Assert.Contains("format version 7", await server.WaitForOutputAsync("(file changed)"));
        // About ten more checks of the unchanged broken file, none of which may report it again.
        await Eventually.NeverWithinAsync(() => server.Stdout.Split('\n').Count(l => l.Contains("not reloaded", StringComparison.Ordinal)) > 1,
            TimeSpan.FromSeconds(1), "a second report of the unchanged broken users file");

        await ReplaceAtomicallyAsync(usersFile, good);
        Assert.Contains("Users reloaded: 1 user(s)", await server.WaitForOutputAsync("(file changed)", count: 2));
        await using var alice = await LoginAsync(address, "alice", aliceKey);
        Assert.Equal("OK"u8.ToArray(), await alice.EchoAsync("ok"u8.ToArray(), TestTimeouts.Token()));
    }

    /// <summary>
    /// Replaces the users file whole, as <c>ferry user</c> and most editors do: a new file renamed over the old one. Written in place, the 0.1 s poller may read it half-written and rightly report that, once, before
    /// the next check finds it whole; the tests here are about what the reloader does with each complete version.
    /// </summary>
    private static async Task ReplaceAtomicallyAsync(string path, string content)
    {
        var next = path + ".next";
        await File.WriteAllTextAsync(next, content);
        File.Move(next, path, overwrite: true);
    }
}
