using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// A disk that fills up in the middle of a transfer, with the real executables on a 4 MiB tmpfs: the transfer fails
/// with a clear message and exit code 9, the final name never holds a partial file, the space is given back, and the
/// next transfer that fits succeeds. (StorageLimitTests covers the same on the wire, frame by frame.)
/// </summary>
[Collection(LargeTransfers.Name)]
public class DiskFullTests
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task An_upload_that_fills_the_servers_disk_fails_clearly_and_the_server_keeps_serving()
    {
        using var mount = TmpfsMount.Create(sizeBytes: 4 * MiB);
        using var local = new TempDirectory("ferry-disk-full-put");
        await using var server = await ServerProcess.StartAsync(mount.Path, local.Combine("state"));
        var big = TestFiles.Create(local.Combine("big.bin"), 8 * MiB, seed: 31);
        using var watcher = new FinalNameWatcher(mount.Path, "big.bin", big);

        var failed = await FerryProcess.RunAsync("put", "--plain", "--server", server.Address, "-q", big, "big.bin");
        Assert.Equal(9, failed.ExitCode); // NoSpace (docs/errors.md)
        Assert.Contains("disk", failed.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(Path.Combine(mount.Path, "big.bin")));
        await server.WaitForConnectionsToCloseAsync();
        Assert.Empty(Directory.GetFileSystemEntries(mount.Path)); // the partial data was removed, so its space is free again
        watcher.AssertNeverSawTheFile();

        // The same server, a file that fits: stored and read back intact.
        var small = TestFiles.Create(local.Combine("small.bin"), 3 * MiB, seed: 32);
        var put = await FerryProcess.RunAsync("put", "--plain", "--server", server.Address, "-q", small, "small.bin");
        Assert.True(put.ExitCode == 0, put.Stderr);
        var get = await FerryProcess.RunAsync("get", "--plain", "--server", server.Address, "-q", "small.bin", local.Combine("back.bin"));
        Assert.True(get.ExitCode == 0, get.Stderr);
        TestFiles.AssertSame(small, local.Combine("back.bin"));
    }

    [Fact]
    public async Task A_download_that_fills_the_clients_disk_fails_clearly_and_leaves_no_file_under_its_name()
    {
        using var mount = TmpfsMount.Create(sizeBytes: 4 * MiB);
        using var sandbox = new TempDirectory("ferry-disk-full-get");
        var root = Directory.CreateDirectory(sandbox.Combine("root")).FullName;
        TestFiles.Create(Path.Combine(root, "big.bin"), 8 * MiB, seed: 33);
        var small = TestFiles.Create(Path.Combine(root, "small.bin"), 3 * MiB, seed: 34);
        await using var server = await ServerProcess.StartAsync(root, sandbox.Combine("state"));
        using var watcher = new FinalNameWatcher(mount.Path, "big.bin", Path.Combine(root, "big.bin"));

        var failed = await FerryProcess.RunAsync("get", "--plain", "--server", server.Address, "-q", "big.bin", Path.Combine(mount.Path, "big.bin"));
        Assert.Equal(9, failed.ExitCode);
        Assert.Contains("disk", failed.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(Path.Combine(mount.Path, "big.bin")));
        watcher.AssertNeverSawTheFile();

        // Room is made by removing the partial download; a file that fits then arrives intact.
        foreach (var part in Directory.GetFiles(mount.Path, ".ferry-part.*"))
            File.Delete(part);
        var get = await FerryProcess.RunAsync("get", "--plain", "--server", server.Address, "-q", "small.bin", Path.Combine(mount.Path, "small.bin"));
        Assert.True(get.ExitCode == 0, get.Stderr);
        TestFiles.AssertSame(small, Path.Combine(mount.Path, "small.bin"));
    }
}
