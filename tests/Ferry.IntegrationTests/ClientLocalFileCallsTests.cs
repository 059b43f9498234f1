using System.Diagnostics;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// The client's shortest ways to the local disk: a small file read with open/pread/close only, and a download's part
/// file created first. Each refuses what the longer way refused.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class ClientLocalFileCallsTests
{
    [Fact]
    public void A_small_file_is_read_whole_and_a_changed_size_is_refused()
    {
        using var local = new TempDirectory("ferry-small-read");
        var path = TestFiles.Create(local.Combine("f.bin"), 4096, seed: 7);
        var buffer = new byte[8192];

        LocalFiles.ReadWholeSmallFile(path, buffer, 4096);
        Assert.Equal(File.ReadAllBytes(path), buffer[..4096]);

        var grown = Assert.Throws<FerryException>(() => LocalFiles.ReadWholeSmallFile(path, buffer, 4000));
        Assert.Equal(FerryErrorCode.IoError, grown.Code);
        Assert.Throws<FerryException>(() => LocalFiles.ReadWholeSmallFile(path, buffer, 5000));
    }

    [Fact]
    public async Task What_is_not_a_regular_file_fails_the_read_without_waiting()
    {
        using var local = new TempDirectory("ferry-small-read-odd");
        var buffer = new byte[64];
        Assert.Throws<FileNotFoundException>(() => LocalFiles.ReadWholeSmallFile(local.Combine("missing"), buffer, 10));
        Directory.CreateDirectory(local.Combine("folder"));
        Assert.ThrowsAny<IOException>(() => LocalFiles.ReadWholeSmallFile(local.Combine("folder"), buffer, 10));

        // A FIFO swapped in since the scan: opening it must not wait for a writer that never comes.
        using (var mkfifo = Process.Start("mkfifo", local.Combine("pipe")))
            await mkfifo.WaitForExitAsync(TestTimeouts.Token());
        var read = Task.Run(() => LocalFiles.ReadWholeSmallFile(local.Combine("pipe"), buffer, 10));
        var ex = await Record.ExceptionAsync(() => read.WaitAsync(TestTimeouts.Token()));
        Assert.True(ex is IOException or FerryException, ex?.ToString());
    }

    [Fact]
    public void A_part_file_made_fresh_says_so_and_one_left_over_is_opened_as_it_is()
    {
        using var local = new TempDirectory("ferry-part-created");
        var part = local.Combine(".ferry-part.f.bin");

        using (var handle = PartFile.OpenForWriting(part, out var created))
        {
            Assert.True(created);
            Assert.Equal(0, RandomAccess.GetLength(handle));
            RandomAccess.Write(handle, new byte[] { 1, 2, 3 }, 0);
        }
        using (var handle = PartFile.OpenForWriting(part, out var created))
        {
            Assert.False(created);
            Assert.Equal(3, RandomAccess.GetLength(handle)); // a resume decides what to keep
        }

        File.Delete(part);
        File.CreateSymbolicLink(part, local.Combine("elsewhere"));
        var ex = Assert.Throws<IOException>(() => PartFile.OpenForWriting(part, out _));
        Assert.Contains("symbolic link", ex.Message);
        Assert.False(File.Exists(local.Combine("elsewhere")));
    }
}
