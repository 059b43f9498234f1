using System.Security.Cryptography;
using Ferry.Client;
using Ferry.Client.Exec;
using Ferry.Client.Security;
using Ferry.Protocol.Auth;
using Ferry.Server.Auth;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// Transfers and commands through a <see cref="LoopbackRelay"/> that delivers in 4 KiB slices at a capped rate, as real
/// networks do and loopback never does: the server's reads then complete one small piece at a time, often just as
/// they are issued. An upload over such a link once failed more often than not (a consumed ValueTask read twice put
/// the connection out of step; docs/reliability.md).
/// </summary>
public class SlowLinkTests : IDisposable
{
    private const int MiB = 1024 * 1024;

    /// <summary>32 MiB at 20 MB/s takes under two seconds when idle; the deadline allows a heavily loaded machine.</summary>
    private static readonly TimeSpan s_deadline = TimeSpan.FromMinutes(3);

    private static readonly byte[] s_key = Handshake.NewKey();
    private readonly TempDirectory _config = new("ferry-client-config");

    public void Dispose() => _config.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_32_MiB_put_through_a_link_that_delivers_4_KiB_slices_arrives_intact(bool tlsAndLogin)
    {
        await using var server = await StartServerAsync(tlsAndLogin);
        await using var relay = LoopbackRelay.Start(server.EndPoint, link: SlowLink.Default);
        await using var client = await ConnectAsync(relay, tlsAndLogin);
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("big.bin"), 32 * MiB + 5, seed: 31);

        using var deadline = new CancellationTokenSource(s_deadline);
        var put = await client.PutFileAsync(source, "big.bin", cancellationToken: deadline.Token);

        Assert.Equal(32 * MiB + 5, put.Bytes);
        TestFiles.AssertSame(source, Path.Combine(tlsAndLogin ? Path.Combine(server.Root, "carol") : server.Root, "big.bin"));
        Assert.False(client.IsBroken);
        Assert.DoesNotContain(server.Logs.Lines, l => l.Message.Contains("failed unexpectedly", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_32_MiB_get_through_a_link_that_delivers_4_KiB_slices_arrives_intact()
    {
        await using var server = await StartServerAsync(tlsAndLogin: false);
        var source = TestFiles.Create(Path.Combine(server.Root, "big.bin"), 32 * MiB + 7, seed: 32);
        await using var relay = LoopbackRelay.Start(server.EndPoint, link: SlowLink.Default);
        await using var client = await ConnectAsync(relay, tlsAndLogin: false);
        using var local = new TempDirectory();

        using var deadline = new CancellationTokenSource(s_deadline);
        var get = await client.GetFileAsync("big.bin", local.Combine("big.bin"), cancellationToken: deadline.Token);

        Assert.Equal(32 * MiB + 7, get.Bytes);
        TestFiles.AssertSame(source, local.Combine("big.bin"));
        Assert.False(client.IsBroken);
    }

    [Fact]
    public async Task A_tree_goes_up_and_comes_back_through_a_link_that_delivers_4_KiB_slices()
    {
        await using var server = await StartServerAsync(tlsAndLogin: false);
        await using var relay = LoopbackRelay.Start(server.EndPoint, link: SlowLink.Default);
        await using var client = await ConnectAsync(relay, tlsAndLogin: false);
        using var local = new TempDirectory();
        // Many frames of every size: empty files, a few bytes, and files that span several put_data frames.
        for (var i = 0; i < 60; i++)
        {
            var path = local.Combine("tree", $"d{i % 4}", $"s{i % 3}", $"{i}.bin");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            TestFiles.Create(path, i % 10 == 0 ? 0 : i % 7 == 0 ? 3 * MiB + i : 1000 * i, seed: 100 + i);
        }

        using var deadline = new CancellationTokenSource(s_deadline);
        var up = await client.PutTreeAsync(local.Combine("tree"), "tree", cancellationToken: deadline.Token);
        var down = await client.GetTreeAsync("tree", local.Combine("copy"), cancellationToken: deadline.Token);

        Assert.Empty(up.Failed);
        Assert.Empty(down.Failed);
        Assert.Equal(60, up.Completed.Count);
        Assert.Equal(60, down.Completed.Count);
        foreach (var file in Directory.GetFiles(local.Combine("tree"), "*", SearchOption.AllDirectories))
            TestFiles.AssertSame(file, local.Combine("copy", Path.GetRelativePath(local.Combine("tree"), file)));
        Assert.False(client.IsBroken);
    }

    [Fact]
    public async Task A_command_gets_its_input_and_returns_its_output_through_a_link_that_delivers_4_KiB_slices()
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowExec = true, ExecTimeout = s_deadline });
        await using var relay = LoopbackRelay.Start(server.EndPoint, link: SlowLink.Default);
        await using var client = await ConnectAsync(relay, tlsAndLogin: false);
        var input = RandomNumberGenerator.GetBytes(8 * MiB + 3);
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();

        using var deadline = new CancellationTokenSource(s_deadline);
        var result = await client.ExecAsync(ExecRequest.Command("cat"), new MemoryStream(input), stdout, stderr, cancellationToken: deadline.Token);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(0, stderr.Length);
        Assert.True(input.AsSpan().SequenceEqual(stdout.ToArray()), $"stdout has {stdout.Length} bytes, stdin had {input.Length}");
        Assert.False(client.IsBroken);
    }

    private static Task<TestServer> StartServerAsync(bool tlsAndLogin) => TestServer.StartAsync(o =>
    {
        if (!tlsAndLogin)
            return o;
        var options = o with { RequireAuthentication = true, UseTls = true };
        Directory.CreateDirectory(options.StateDirectory);
        UsersFile.Save(options.EffectiveUsersFile, [new UserAccount { Name = "carol", Key = s_key }]);
        return options;
    });

    private Task<FerryClient> ConnectAsync(LoopbackRelay relay, bool tlsAndLogin) =>
        FerryClient.ConnectAsync(new ServerAddress("127.0.0.1", relay.EndPoint.Port), tlsAndLogin
            ? new FerryClientOptions
            {
                UseTls = true,
                Credentials = new ClientCredentials("carol", s_key),
                TrustStore = new KnownServers(_config.Combine("known_servers")),
            }
            : new FerryClientOptions { UseTls = false }, TestTimeouts.Token());
}
