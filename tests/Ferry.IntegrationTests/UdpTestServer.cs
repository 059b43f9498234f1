using System.Net;
using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Client.Udp;
using Ferry.Protocol.Datagrams;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Server.Hosting;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// The server every UDP exec test starts: logins required, commands allowed, UDP on 127.0.0.1 (port 0), the test's users
/// with the keys it knows, each with a home; and the one call its clients make.
/// </summary>
internal static class UdpTestServer
{
    /// <summary>Starts the server; <paramref name="configure"/> may change any option after the UDP defaults are set.</summary>
    public static async Task<TestServer> StartAsync(IReadOnlyList<UserAccount> users, Func<FerryServerOptions, FerryServerOptions>? configure = null,
        Action<Microsoft.Extensions.DependencyInjection.IServiceCollection, FerryServerOptions>? register = null)
    {
        var server = await TestServer.StartAsync(o =>
        {
            var options = o with
            {
                RequireAuthentication = true,
                AllowExec = true,
                UdpListen = new IPEndPoint(IPAddress.Loopback, 0),
            };
            options = configure?.Invoke(options) ?? options;
            Directory.CreateDirectory(options.StateDirectory);
            UsersFile.Save(options.EffectiveUsersFile, users);
            return options;
        }, register);
        foreach (var user in users)
            Directory.CreateDirectory(Path.Combine(server.Root, user.Name));
        return server;
    }

    /// <summary>A user with every permission (read, write, exec).</summary>
    public static UserAccount User(string name, byte[] key, Permissions permissions = Permissions.All) =>
        new() { Name = name, Key = key, Permissions = permissions };

    /// <summary>The server's UDP exec address, as a client names it.</summary>
    public static ServerAddress UdpAddress(this TestServer server) => new("127.0.0.1", server.UdpEndPoint!.Port);

    /// <summary>Runs one command over UDP with the real client, within the test deadline.</summary>
    public static Task<UdpExecResult> UdpExecAsync(this TestServer server, ClientCredentials credentials, ExecMessage request, UdpExecOptions? options = null) =>
        UdpExecClient.ExecAsync(server.UdpAddress(), credentials, request, options, TestTimeouts.Token());
}
