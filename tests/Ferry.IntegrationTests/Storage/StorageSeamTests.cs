using System.Text;
using Ferry.Client;
using Ferry.Client.Exec;
using Ferry.Client.Security;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Server.Storage;
using Ferry.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Ferry.IntegrationTests.Storage;

/// <summary>
/// The storage seam: a file store provider registered before the server's own serves every logged-in user (TCP and UDP),
/// and handlers use only what a store offers. Here the store has no local folders and its files no descriptors, as a
/// store whose files live elsewhere: files still move both ways (without zero-copy), commands are refused with a reason.
/// </summary>
public sealed class StorageSeamTests : IAsyncLifetime
{
    private static readonly byte[] s_key = Handshake.NewKey();
    private static readonly ClientCredentials s_ops = new("ops", s_key);
    private TestServer _server = null!;
    private FolderlessStoreProvider _stores = null!;

    public async Task InitializeAsync() =>
        _server = await UdpTestServer.StartAsync([UdpTestServer.User("ops", s_key)], register: (services, options) =>
            services.AddSingleton<IFileStoreProvider>(sp => _stores = new FolderlessStoreProvider(
                new LocalFileStoreProvider(options, sp.GetRequiredService<IUserStore>(), sp.GetRequiredService<UploadRegistry>()))));

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Task<FerryClient> LoginAsync() =>
        FerryClient.ConnectAsync(_server.Address, new FerryClientOptions { UseTls = false, Credentials = s_ops }, TestTimeouts.Token());

    [Fact]
    public async Task A_provider_registered_before_the_server_serves_a_logged_in_user()
    {
        await using var client = await LoginAsync();
        using var local = new TempDirectory();
        // Larger than the zero-copy threshold: without a descriptor the download takes the portable path.
        var source = TestFiles.Create(local.Combine("big.bin"), 3 * 1024 * 1024 + 7, seed: 5);

        var put = await client.PutFileAsync(source, "big.bin", cancellationToken: TestTimeouts.Token());
        var get = await client.GetFileAsync("big.bin", local.Combine("back.bin"), cancellationToken: TestTimeouts.Token());

        Assert.Equal(put.Hash, get.Hash);
        TestFiles.AssertSame(source, local.Combine("back.bin"));
        TestFiles.AssertSame(source, Path.Combine(_server.Root, "ops", "big.bin"));
        Assert.Contains(await client.ListAsync("", cancellationToken: TestTimeouts.Token()), e => e.Name == "big.bin");
        Assert.True(_stores.Stores["ops"].Operations >= 3, $"{_stores.Stores["ops"].Operations} operations reached the registered store");
    }

    [Fact]
    public async Task A_command_on_a_store_without_local_folders_is_exec_failed_over_tcp_and_udp_and_nothing_runs()
    {
        await using var client = await LoginAsync();
        using var stdout = new MemoryStream();
        using var stderr = new MemoryStream();

        var tcp = await Assert.ThrowsAsync<FerryRemoteException>(() =>
            client.ExecAsync(new ExecRequest { Shell = "touch ran-tcp" }, null, stdout, stderr, new ExecOptions { Raw = true }, TestTimeouts.Token()));
        var udp = await Assert.ThrowsAsync<FerryRemoteException>(() => _server.UdpExecAsync(s_ops, new ExecMessage { Shell = "touch ran-udp" }));

        Assert.Equal(FerryErrorCode.ExecFailed, tcp.Code);
        Assert.Equal(FerryErrorCode.ExecFailed, udp.Code);
        Assert.Contains("without local folders", tcp.Message, StringComparison.Ordinal);
        Assert.Equal(tcp.Message, udp.Message);
        Assert.False(File.Exists(Path.Combine(_server.Root, "ops", "ran-tcp")));
        Assert.False(File.Exists(Path.Combine(_server.Root, "ops", "ran-udp")));
        // The connection goes on.
        Assert.Empty(await client.ListAsync("", cancellationToken: TestTimeouts.Token()));
        Assert.Equal(0, Encoding.UTF8.GetByteCount(Encoding.UTF8.GetString(stdout.ToArray())));
    }
}
