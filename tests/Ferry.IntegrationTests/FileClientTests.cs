using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>The client library's file operations against the real server over loopback.</summary>
public class FileClientTests
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task Put_then_get_round_trips_a_file_and_keeps_its_modification_time()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("a.bin"), 3 * MiB + 17, seed: 1);
        File.SetLastWriteTimeUtc(source, new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc));

        var put = await client.PutFileAsync(source, "a.bin", cancellationToken: TestTimeouts.Token());
        Assert.Equal("a.bin", put.RemotePath);
        Assert.Equal(3 * MiB + 17, put.Bytes);
        Assert.Equal("xxh3-128", put.Checksum);
        TestFiles.AssertSame(source, Path.Combine(server.Root, "a.bin"));
        Assert.Equal(new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc), File.GetLastWriteTimeUtc(Path.Combine(server.Root, "a.bin")));

        var target = local.Combine("back.bin");
        var get = await client.GetFileAsync("a.bin", target, cancellationToken: TestTimeouts.Token());
        Assert.Equal(put.Hash, get.Hash);
        TestFiles.AssertSame(source, target);
        Assert.Equal(new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc), File.GetLastWriteTimeUtc(target));
        Assert.Empty(Directory.GetFiles(local.Path, ".ferry-part.*"));
    }

    [Fact]
    public async Task A_pipelined_batch_reports_a_refused_file_and_delivers_the_others()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        File.WriteAllText(Path.Combine(server.Root, "b.txt"), "already here");
        var files = new[] { "a.txt", "b.txt", "c.txt", "empty.txt" }
            .Select(n => new FileTransfer(TestFiles.CreateText(local.Combine(n), n == "empty.txt" ? "" : $"content of {n}"), n))
            .ToList();

        var batch = await client.PutFilesAsync(files, cancellationToken: TestTimeouts.Token());

        Assert.Equal(["a.txt", "c.txt", "empty.txt"], batch.Completed.Select(r => r.RemotePath));
        var failure = Assert.Single(batch.Failed);
        Assert.Equal("b.txt", failure.RemotePath);
        Assert.Equal(FerryErrorCode.AlreadyExists, failure.Code);
        Assert.Equal("already here", File.ReadAllText(Path.Combine(server.Root, "b.txt")));
        Assert.Equal("content of c.txt", File.ReadAllText(Path.Combine(server.Root, "c.txt")));
        Assert.Equal(0, new FileInfo(Path.Combine(server.Root, "empty.txt")).Length);
        Assert.False(client.IsBroken);
        Assert.Single(await client.ListAsync("", cancellationToken: TestTimeouts.Token()), e => e.Name == "a.txt"); // still usable
    }

    [Fact]
    public async Task A_resumed_upload_sends_again_only_the_chunks_that_differ_and_the_rest()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("r.bin"), 40 * MiB, seed: 5);

        // An upload interrupted after about 20 MiB leaves a partial file on the server.
        await using (var first = await server.ConnectAsync())
        {
            using var stop = new CancellationTokenSource();
            var progress = new SyncProgress(done => { if (done >= 20 * MiB) stop.Cancel(); });
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.PutFileAsync(source, "r.bin", progress: progress, cancellationToken: stop.Token));
            Assert.True(first.IsBroken);
        }
        await WaitForNoConnectionsAsync(server);

        // Meanwhile the first chunk changed locally: it must be sent again, the other kept chunks not.
        using (var file = new FileStream(source, FileMode.Open, FileAccess.Write))
        {
            file.Position = 100;
            file.Write("changed"u8);
        }
        await using var client = await server.ConnectAsync();
        var result = await client.PutFileAsync(source, "r.bin", new PutOptions { Resume = true }, cancellationToken: TestTimeouts.Token());

        Assert.True(result.ResumedFrom >= 4 * MiB && result.ResumedFrom % (4 * MiB) == 0, $"resumed from {result.ResumedFrom}");
        Assert.Equal(4 * MiB + (40 * MiB - result.ResumedFrom), result.BytesTransferred);
        TestFiles.AssertSame(source, Path.Combine(server.Root, "r.bin"));
    }

    [Fact]
    public async Task A_resumed_download_keeps_the_matching_chunks_of_the_partial_file_and_fetches_the_rest()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        var stored = TestFiles.Create(Path.Combine(server.Root, "d.bin"), 20 * MiB + 5, seed: 6);
        var target = local.Combine("d.bin");

        // A partial download: 10 MiB of the right bytes, then 2 MiB of garbage (chunk 2 no longer matches).
        var part = local.Combine(".ferry-part.d.bin");
        using (var source = File.OpenRead(stored))
        using (var file = File.Create(part))
        {
            var buffer = new byte[10 * MiB];
            source.ReadExactly(buffer);
            file.Write(buffer);
            file.Write(new byte[2 * MiB]);
        }

        var result = await client.GetFileAsync("d.bin", target, new GetOptions { Resume = true }, cancellationToken: TestTimeouts.Token());

        Assert.Equal(8 * MiB, result.ResumedFrom);
        Assert.Equal(20 * MiB + 5 - 8 * MiB, result.BytesTransferred);
        TestFiles.AssertSame(stored, target);
        Assert.False(File.Exists(part));
    }

    [Fact]
    public async Task Without_resume_a_stale_partial_download_is_overwritten()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        File.WriteAllText(Path.Combine(server.Root, "s.txt"), "fresh");
        File.WriteAllText(local.Combine(".ferry-part.s.txt"), "stale bytes that are longer");

        var result = await client.GetFileAsync("s.txt", local.Combine("s.txt"), cancellationToken: TestTimeouts.Token());

        Assert.Equal(0, result.ResumedFrom);
        Assert.Equal("fresh", File.ReadAllText(local.Combine("s.txt")));
        Assert.False(File.Exists(local.Combine(".ferry-part.s.txt")));
    }

    [Fact]
    public async Task Sha256_is_computed_on_both_sides()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("s.bin"), 6 * MiB + 1, seed: 9);
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(source)));

        var put = await client.PutFileAsync(source, "s.bin", new PutOptions { Checksum = ChecksumAlgorithm.Sha256 }, cancellationToken: TestTimeouts.Token());
        var get = await client.GetFileAsync("s.bin", local.Combine("back.bin"), new GetOptions { Checksum = ChecksumAlgorithm.Sha256 }, cancellationToken: TestTimeouts.Token());

        Assert.Equal(("sha256", expected), (put.Checksum, put.Hash));
        Assert.Equal(("sha256", expected), (get.Checksum, get.Hash));
        TestFiles.AssertSame(source, local.Combine("back.bin"));
    }

    [Fact]
    public async Task Management_calls_map_to_the_spec_errors()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        var ct = TestTimeouts.Token();

        await client.MkdirAsync("x/y", parents: true, ct);
        Assert.Equal(Ferry.Client.RemoteEntryKind.Directory, (await client.StatAsync("x/y", ct)).Kind);
        Assert.Equal(FerryErrorCode.AlreadyExists, (await Assert.ThrowsAsync<FerryRemoteException>(() => client.MkdirAsync("x", cancellationToken: ct))).Code);
        Assert.Equal(FerryErrorCode.NotFound, (await Assert.ThrowsAsync<FerryRemoteException>(() => client.StatAsync("nothing", ct))).Code);
        Assert.Equal(FerryErrorCode.DirectoryNotEmpty, (await Assert.ThrowsAsync<FerryRemoteException>(() => client.RemoveAsync("x", cancellationToken: ct))).Code);
        Assert.Equal(FerryErrorCode.PathEscapesRoot, (await Assert.ThrowsAsync<FerryException>(() => client.ListAsync("../..", cancellationToken: ct))).Code);
        await client.MoveAsync("x", "z", cancellationToken: ct);
        Assert.Equal(["z", "z/y"], (await client.ListAsync("", recursive: true, ct)).Select(e => e.Name));
        await client.RemoveAsync("z", recursive: true, ct);
        Assert.Empty(await client.ListAsync("", cancellationToken: ct));
        Assert.False(client.IsBroken);
    }

    private static async Task WaitForNoConnectionsAsync(TestServer server)
    {
        var timeout = TestTimeouts.Token();
        while (server.Server.ConnectionCount > 0)
            await Task.Delay(10, timeout);
    }

    /// <summary>An <see cref="IProgress{T}"/> that runs on the reporting thread (Progress&lt;T&gt; would post it later).</summary>
    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
