using System.Text;
using Ferry.Protocol.Files;
using Ferry.Server.Handlers.Files;
using Ferry.Server.Storage;
using Ferry.Testing;

namespace Ferry.IntegrationTests.Storage;

/// <summary>
/// A small upload (below one chunk, as every put_files record is) skips the calls whose effect nothing can observe: the
/// first fchmod of a part file that gets the sender's mode, the unlink of a .meta it cannot be resumed from, the second
/// measure of the target before the store has a quota. What each would have protected still holds.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class SmallUploadTests
{
    private const UnixFileMode Mode0640 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
    private const UnixFileMode Mode0660 = Mode0640 | UnixFileMode.GroupWrite;

    private static async Task StoreAsync(LocalFileStore store, string path, byte[] data, bool force, int? mode)
    {
        var request = new UploadRequest(path, data.Length, ChecksumAlgorithm.Xxh3, force, Resume: false, ModifiedTime: null, PutHandler.ChunkSize,
            Mode: mode, ModifiedNs: 1_700_000_000_123_456_789);
        var upload = await store.BeginUploadAsync(request, TestTimeouts.Token());
        await using (upload)
        {
            await upload.WriteAsync(data, 0, TestTimeouts.Token());
            await upload.CommitAsync(ChecksumAlgorithm.Xxh3.Hash(data), TestTimeouts.Token());
        }
    }

    [Fact]
    public async Task The_sender_mode_is_exact_and_without_one_the_store_mode_applies()
    {
        using var root = new TempDirectory("ferry-small-mode");
        var store = new LocalFileStore(root.Path, ownership: new DataOwnership(Mode0660, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));

        await StoreAsync(store, "sent.bin", [1, 2, 3], force: true, mode: (int)Mode0640);
        await StoreAsync(store, "plain.bin", [4, 5, 6], force: true, mode: null);

        Assert.Equal(Mode0640, File.GetUnixFileMode(root.Combine("sent.bin")));
        Assert.Equal(Mode0660, File.GetUnixFileMode(root.Combine("plain.bin")));
        Assert.Empty(Directory.EnumerateFiles(root.Path, ".ferry-*"));
    }

    [Fact]
    public async Task A_quota_set_after_forced_replacements_counts_what_the_disk_holds()
    {
        using var root = new TempDirectory("ferry-small-quota");
        var store = new LocalFileStore(root.Path);
        File.WriteAllBytes(root.Combine("a.bin"), new byte[5000]);

        await StoreAsync(store, "a.bin", new byte[100], force: true, mode: null); // replaces 5000 bytes, unmeasured
        await StoreAsync(store, "b.bin", new byte[200], force: false, mode: null);
        store.UpdateQuota(1_000_000);

        Assert.Equal(300, store.Quota.UsedBytes);
        await StoreAsync(store, "a.bin", new byte[50], force: true, mode: null); // measured from now on: frees 100
        Assert.Equal(250, store.Quota.UsedBytes);
    }

    [Fact]
    public async Task A_stale_meta_beside_a_kept_small_part_resumes_nothing()
    {
        using var root = new TempDirectory("ferry-small-meta");
        var store = new LocalFileStore(root.Path);
        var partName = LocalUpload.PartNameFor("x.bin");
        // Left by a big upload of the same name that never ended (its part since swept).
        var size = 2L * PutHandler.ChunkSize;
        File.WriteAllText(root.Combine(partName + LocalUpload.MetaSuffix),
            $$"""{"target":"x.bin","size":{{size}},"checksum":"{{ChecksumAlgorithm.Xxh3Name}}","chunk_size":{{PutHandler.ChunkSize}}}""");

        // A small upload of that name is cut off: its part is kept, the .meta stays beside it.
        var small = await store.BeginUploadAsync(
            new UploadRequest("x.bin", 10, ChecksumAlgorithm.Xxh3, Force: true, Resume: false, ModifiedTime: null, PutHandler.ChunkSize), TestTimeouts.Token());
        await small.WriteAsync(Encoding.ASCII.GetBytes("0123456789"), 0, TestTimeouts.Token());
        await small.DisposeAsync();
        Assert.Equal(10, new FileInfo(root.Combine(partName)).Length);

        var big = await store.BeginUploadAsync(
            new UploadRequest("x.bin", size, ChecksumAlgorithm.Xxh3, Force: true, Resume: true, ModifiedTime: null, PutHandler.ChunkSize), TestTimeouts.Token());
        await using (big)
        {
            Assert.Equal(0, big.ResumeOffset);
            Assert.Equal(0, big.ResumeChunkHashes.Length);
        }
    }
}
