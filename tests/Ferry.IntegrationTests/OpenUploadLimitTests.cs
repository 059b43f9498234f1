using System.Text.Json;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Server.Storage;
using Ferry.Testing;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary>
/// Open uploads (one file descriptor each) are capped per user and across the server, well below the open-file limit
/// (docs/security.md "Resource exhaustion").
/// </summary>
public class OpenUploadLimitTests
{
    private static async Task<(string Code, bool Fatal)?> OpenAsync(RawConnection raw, int id, string path)
    {
        await raw.SendAsync(Json(new { cmd = "put", id, path, size = 10, checksum = "xxh3-128" }));
        var reply = (await raw.ReadAsync())!;
        if (reply.Command == "put_ready")
            return null;
        var error = JsonDocument.Parse(reply.Json).RootElement;
        return (error.GetProperty("code").GetString()!, error.TryGetProperty("fatal", out var f) && f.GetBoolean());
    }

    [Fact]
    public void The_default_caps_lie_well_below_the_open_file_limit()
    {
        var defaults = new Ferry.Server.Hosting.FerryServerOptions();
        Assert.True(defaults.MaxOpenUploads <= Math.Max(64, OpenFileLimit.Current / 4), $"{defaults.MaxOpenUploads} of {OpenFileLimit.Current}");
        Assert.InRange(defaults.MaxOpenUploadsPerUser, 16, defaults.MaxOpenUploads);
        // The old reach of one user: 4096 uploads on each of 32 connections.
        Assert.True(defaults.MaxOpenUploadsPerUser * 1L < 4096L * 32);
    }

    [Fact]
    public async Task A_client_that_opens_too_many_uploads_gets_too_many_uploads_and_the_server_goes_on_serving()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxOpenUploadsPerUser = 8, MaxOpenUploads = 100 });
        await using var greedy = await HelloAsync(server);
        for (var id = 1; id <= 8; id++)
            Assert.Null(await OpenAsync(greedy, id, $"f{id}.bin"));
        Assert.Equal(("too_many_uploads", false), await OpenAsync(greedy, 9, "f9.bin"));
        Assert.Equal(8, server.Services.GetService(typeof(UploadRegistry)) is UploadRegistry r ? r.OpenUploads : -1);

        // Without login every connection is the same user: another one is refused uploads, but served otherwise.
        await using var other = await HelloAsync(server);
        Assert.Equal(("too_many_uploads", false), await OpenAsync(other, 1, "g.bin"));
        await other.SendAsync(Json(new { cmd = "ls", path = "" }));
        Assert.Equal("listing", (await other.ReadAsync())!.Command);

        // Ending one upload frees a place at once.
        var data = RandomBytes(10, 1);
        await greedy.SendAsync(Json(new { cmd = "put_data", id = 1, offset = 0, bodysize = 10 }, data));
        await greedy.SendAsync(Json(new { cmd = "put_end", id = 1, hash = Hex(data) }));
        Assert.Equal("done", (await greedy.ReadAsync())!.Command);
        Assert.Equal("done", (await UploadAsync(other, "g.bin", RandomBytes(10, 2))).Command);

        // A dropped connection gives its places back.
        await greedy.DisposeAsync();
        var registry = (UploadRegistry)server.Services.GetService(typeof(UploadRegistry))!;
        await HostTests.WaitUntilAsync(() => registry.OpenUploads == 0);
        for (var id = 10; id < 18; id++)
            Assert.Null(await OpenAsync(other, id, $"h{id}.bin"));
    }

    [Fact]
    public async Task The_server_wide_cap_holds_across_connections()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxOpenUploadsPerUser = 100, MaxOpenUploads = 5 });
        await using var first = await HelloAsync(server);
        await using var second = await HelloAsync(server);
        for (var id = 1; id <= 3; id++)
            Assert.Null(await OpenAsync(first, id, $"a{id}.bin"));
        for (var id = 1; id <= 2; id++)
            Assert.Null(await OpenAsync(second, id, $"b{id}.bin"));
        Assert.Equal(("too_many_uploads", false), await OpenAsync(second, 3, "b3.bin"));
        Assert.Equal(("too_many_uploads", false), await OpenAsync(first, 4, "a4.bin"));
    }

    [Fact]
    public async Task One_user_at_the_cap_does_not_keep_another_from_uploading()
    {
        await using var login = await LoginServer.StartAsync([("alice", null), ("bob", null)], o => o with { MaxOpenUploadsPerUser = 4 });
        using var local = new TempDirectory("ferry-uploads-local");
        // Larger than one put_file frame carries, so each upload stays open on the server while the batch is held.
        var size = 128 * 1024 + 1; // the client sends files up to 128 KiB in one frame (docs/protocol.md §5.2.2)
        var files = Enumerable.Range(0, 6).Select(i => new FileTransfer(TestFiles.Create(local.Combine($"{i}.bin"), size, seed: i), $"{i}.bin")).ToList();

        // alice pipelines six puts in one batch and holds the first open: four are open, two refused.
        await using var alice = await login.LoginAsync("alice");
        using var hold = new HoldingObserver();
        var batch = Task.Run(() => alice.PutFilesAsync(files, observer: hold, cancellationToken: TestTimeouts.Token()));
        await hold.Started.WaitAsync(TestTimeouts.Token());
        var registry = (UploadRegistry)login.Server.Services.GetService(typeof(UploadRegistry))!;
        await HostTests.WaitUntilAsync(() => registry.OpenUploads == 4);

        await using var bob = await login.LoginAsync("bob");
        await bob.PutFileAsync(files[0].LocalPath, "from-bob.bin", cancellationToken: TestTimeouts.Token());

        hold.Release();
        var result = await batch.WaitAsync(TestTimeouts.Token());
        Assert.Equal(4, result.Completed.Count);
        Assert.Equal(2, result.Failed.Count);
        Assert.All(result.Failed, f => Assert.True(f.Error is FerryException { Code: FerryErrorCode.TooManyUploads }, f.Error.ToString()));
        Assert.Equal(0, registry.OpenUploads);
    }
}
