using System.Diagnostics;
using Xunit.Abstractions;
using System.Text.Json;
using Ferry.Protocol.Messages;
using Ferry.Sync.Chunking;
using Ferry.Sync.Delta;
using Ferry.Testing;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests.Sync;

/// <summary>scan and chunks (docs/protocol.md §5.9.1, §5.9.2), at the frame level.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class ScanAndChunksTests(ITestOutputHelper output) : SyncWireTest
{
    /// <summary>Every page of a scan, with the pages' counts and more flags.</summary>
    private async Task<(List<ScanEntry> Entries, List<(int Count, bool More)> Pages)> ScanAsync(string path, bool hashes = false, string? encoding = null)
    {
        var (entries, pages, _) = await ScanPagesAsync(path, hashes, encoding);
        return (entries, pages);
    }

    /// <summary>
    /// Every page of a scan; a zstd page is checked to decompress to exactly its rawsize. Also the bytes of the pages'
    /// headers and bodies as they crossed the wire.
    /// </summary>
    private async Task<(List<ScanEntry> Entries, List<(int Count, bool More)> Pages, long WireBytes)> ScanPagesAsync(string path, bool hashes, string? encoding)
    {
        await Peer.SendAsync(encoding is null ? new { cmd = "scan", path, hashes } : new { cmd = "scan", path, hashes, encoding });
        var entries = new List<ScanEntry>();
        var pages = new List<(int, bool)>();
        var wire = 0L;
        while (true)
        {
            var frame = await Peer.ReadAsync();
            Assert.True(frame.Command == "scan_list", frame.Json);
            wire += System.Text.Encoding.UTF8.GetByteCount(frame.Json) + frame.Body.Length;
            var page = JsonSerializer.Deserialize(frame.Json, FerryJsonContext.Default.ScanListMessage)!;
            var json = frame.Body;
            if (page.Encoding is not null)
            {
                Assert.Equal("zstd", page.Encoding);
                Assert.Equal(encoding, page.Encoding);
                Assert.True(frame.Body.Length < page.RawSize, frame.Json);
                using var decompressor = new ZstdSharp.Decompressor();
                json = decompressor.Unwrap(frame.Body).ToArray();
                Assert.Equal(page.RawSize, json.Length);
            }
            else
            {
                Assert.Null(page.RawSize);
            }
            var body = JsonSerializer.Deserialize(json, FerryJsonContext.Default.ListScanEntry)!;
            Assert.Equal(page.Count, body.Count);
            entries.AddRange(body);
            pages.Add((page.Count, page.More));
            if (!page.More)
                return (entries, pages, wire);
        }
    }

    /// <summary>A tree with files (one empty), folders, links (one pointing out) and a FIFO.</summary>
    private async Task MakeMixedTreeAsync()
    {
        Directory.CreateDirectory(Root("b/sub"));
        Directory.CreateDirectory(Root("a/empty"));
        await File.WriteAllBytesAsync(Root("b/sub/z.bin"), RandomBytes(70_000, 13));
        await File.WriteAllTextAsync(Root("B.txt"), "upper");
        await File.WriteAllTextAsync(Root("a/zero.txt"), "");
        File.CreateSymbolicLink(Root("b/out"), Outside.Path);
        File.CreateSymbolicLink(Root("b/up"), "../B.txt");
        MakeFifo(Root("b/pipe"));
    }

    private static void MakeFifo(string path)
    {
        using var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    [Fact]
    public async Task Scan_lists_the_tree_depth_first_in_ordinal_order_with_links_unfollowed_and_fifos_as_other()
    {
        Directory.CreateDirectory(Root("b/sub"));
        Directory.CreateDirectory(Root("a"));
        var data = RandomBytes(70_000, 11);
        await File.WriteAllBytesAsync(Root("b/sub/z.bin"), data);
        await File.WriteAllTextAsync(Root("B.txt"), "upper");
        await File.WriteAllTextAsync(Root("a/.ferry-part.123"), "hidden");
        File.SetUnixFileMode(Root("B.txt"), (UnixFileMode)0x1A4);
        File.SetUnixFileMode(Root("b"), (UnixFileMode)0x1C0);
        await File.WriteAllTextAsync(Outside.Combine("secret.txt"), "outside");
        File.CreateSymbolicLink(Root("b/out"), Outside.Path);
        File.CreateSymbolicLink(Root("b/file-out"), Outside.Combine("secret.txt"));
        MakeFifo(Root("b/pipe"));
        File.SetLastWriteTimeUtc(Root("B.txt"), new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddTicks(1234567));

        var (entries, pages) = await ScanAsync("", hashes: true);
        Assert.Equal([(entries.Count, false)], pages);
        Assert.Equal(["B.txt", "a", "b", "b/file-out", "b/out", "b/pipe", "b/sub", "b/sub/z.bin"], entries.Select(e => e.Name));
        var byName = entries.ToDictionary(e => e.Name);
        Assert.Equal(("file", 5L, 0x1A4), (byName["B.txt"].Type, byName["B.txt"].Size, byName["B.txt"].Mode!.Value));
        Assert.Equal((new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddTicks(1234567) - DateTime.UnixEpoch).Ticks * 100, byName["B.txt"].ModifiedNs);
        Assert.Equal(("dir", 0x1C0), (byName["b"].Type, byName["b"].Mode!.Value));
        Assert.Equal(("link", Outside.Path, null), (byName["b/out"].Type, byName["b/out"].Target, byName["b/out"].Hash));
        Assert.Equal(("link", Outside.Combine("secret.txt")), (byName["b/file-out"].Type, byName["b/file-out"].Target));
        Assert.Equal(("other", null), (byName["b/pipe"].Type, byName["b/pipe"].Hash));
        Assert.Equal(Hex(data), byName["b/sub/z.bin"].Hash);
        Assert.Equal(Hex("upper"u8.ToArray()), byName["B.txt"].Hash);
        Assert.DoesNotContain(entries, e => e.Name.Contains("secret", StringComparison.Ordinal));
        Assert.All(entries.Where(e => e.Type != "file"), e => Assert.Null(e.Hash));

        // Without hashes, none.
        var (plain, _) = await ScanAsync("b");
        Assert.Equal(["file-out", "out", "pipe", "sub", "sub/z.bin"], plain.Select(e => e.Name));
        Assert.All(plain, e => Assert.Null(e.Hash));
    }

    [Fact]
    public async Task A_zstd_scan_lists_exactly_what_a_plain_one_does_and_so_does_the_client()
    {
        await MakeMixedTreeAsync();

        var (plain, plainPages) = await ScanAsync("", hashes: true);
        var (compressed, compressedPages) = await ScanAsync("", hashes: true, encoding: "zstd");

        Assert.Equal(plainPages, compressedPages);
        Assert.Equal(plain, compressed);
        Assert.Equal(["B.txt", "a", "a/empty", "a/zero.txt", "b", "b/out", "b/pipe", "b/sub", "b/sub/z.bin", "b/up"], compressed.Select(e => e.Name));
        await using var client = await Server.ConnectAsync();
        var viaClient = await new Ferry.Client.Sync.RemoteTree(client).ScanAsync("", hashes: true, TestTimeouts.Token());
        Assert.Equal(plain, viaClient);
    }

    [Fact]
    public async Task Pages_leave_out_zero_sizes_and_times_and_absent_modes()
    {
        await MakeMixedTreeAsync();
        await Peer.SendAsync(new { cmd = "scan", path = "" });
        var frame = await Peer.ReadAsync();
        var json = System.Text.Encoding.UTF8.GetString(frame.Body);

        Assert.DoesNotContain("\"size\":0", json, StringComparison.Ordinal);
        Assert.DoesNotContain("\"mtime_ns\":0", json, StringComparison.Ordinal);
        Assert.DoesNotContain("null", json, StringComparison.Ordinal);
        Assert.Contains("""{"name":"b/pipe","type":"other"}""", json, StringComparison.Ordinal);
        Assert.Contains("""{"name":"a/zero.txt","type":"file","mtime_ns":""", json, StringComparison.Ordinal);
        Assert.Contains("\"size\":70000,", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_scan_in_an_unknown_encoding_is_refused()
    {
        Assert.Equal("field_invalid", await Peer.AskAsync(new { cmd = "scan", path = "", encoding = "gzip" }));
    }

    [Fact]
    public async Task Scan_pages_of_a_two_thousand_file_tree_are_several_times_smaller_compressed()
    {
        for (var d = 0; d < 20; d++)
        {
            Directory.CreateDirectory(Root($"project/module{d:D2}/src"));
            for (var f = 0; f < 100; f++)
            {
                var file = Root($"project/module{d:D2}/src/source_file_{f:D3}.cs");
                await File.WriteAllBytesAsync(file, RandomBytes(100 + d * 100 + f, d * 100 + f));
                // Times spread over years, to the nanosecond's worth of ticks, as a real tree's are: no easy runs for zstd.
                File.SetLastWriteTimeUtc(file, new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddTicks(Random.Shared.NextInt64(TimeSpan.TicksPerDay * 1500)));
            }
        }

        foreach (var hashes in new[] { false, true })
        {
            var (plain, _, plainBytes) = await ScanPagesAsync("", hashes, encoding: null);
            var (compressed, _, compressedBytes) = await ScanPagesAsync("", hashes, encoding: "zstd");

            Assert.Equal(plain, compressed);
            Assert.Equal(2041, plain.Count);
            output.WriteLine($"scan pages of {plain.Count} entries (hashes {hashes}): {plainBytes} bytes plain, {compressedBytes} bytes zstd ({(double)plainBytes / compressedBytes:F1}x)");
            Assert.True(compressedBytes * 2 < plainBytes, $"{compressedBytes} bytes compressed against {plainBytes} plain");
        }
    }

    [Fact]
    public async Task Scan_of_a_file_is_one_nameless_entry_and_missing_or_escaping_paths_are_errors()
    {
        await File.WriteAllTextAsync(Root("one.txt"), "1");
        var (entries, _) = await ScanAsync("one.txt", hashes: true);
        var single = Assert.Single(entries);
        Assert.Equal(("", "file", 1L, Hex("1"u8.ToArray())), (single.Name, single.Type, single.Size, single.Hash));

        Assert.Equal("not_found", await Peer.AskAsync(new { cmd = "scan", path = "missing" }));
        Assert.Equal("path_escapes_root", await Peer.AskAsync(new { cmd = "scan", path = "../" + Path.GetFileName(Outside.Path) }));
        Directory.CreateSymbolicLink(Root("out"), Outside.Path);
        Assert.Equal("path_escapes_root", await Peer.AskAsync(new { cmd = "scan", path = "out" }));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("zstd")]
    public async Task A_scan_of_more_than_ten_thousand_entries_comes_in_pages(string? encoding)
    {
        Directory.CreateDirectory(Root("many"));
        for (var i = 0; i < 10_050; i++)
            File.Create(Root($"many/{i:D5}")).Dispose();
        // Making 10,050 files can take longer than the login grace time on a loaded machine, and the peer connected
        // before it had sent no command: a fresh one asks at once.
        await Peer.DisposeAsync();
        Peer = await SyncPeer.ConnectAsync(Server);

        var (entries, pages) = await ScanAsync("", encoding: encoding);
        Assert.Equal([(10_000, true), (51, false)], pages);
        Assert.Equal("many", entries[0].Name);
        Assert.Equal(Enumerable.Range(0, 10_050).Select(i => $"many/{i:D5}"), entries.Skip(1).Select(e => e.Name));

        if (encoding is not null)
        {
            // The client asks for zstd pages on its own and reads every page.
            await using var client = await Server.ConnectAsync();
            var viaClient = await new Ferry.Client.Sync.RemoteTree(client).ScanAsync("", hashes: false, TestTimeouts.Token());
            Assert.Equal(entries, viaClient);
        }
    }

    [Fact]
    public async Task Chunks_answers_the_files_fastcdc_list_and_hash()
    {
        var data = RandomBytes(1_500_000, 12);
        await File.WriteAllBytesAsync(Root("c.bin"), data);
        await Peer.SendAsync(new { cmd = "chunks", id = 7, path = "c.bin", avg = 8192 });
        var frame = await Peer.ReadAsync();
        Assert.True(frame.Command == "chunk_list", frame.Json);
        var reply = JsonSerializer.Deserialize(frame.Json, FerryJsonContext.Default.ChunkListMessage)!;
        Assert.Equal((7L, 1_500_000L, 8192, Hex(data)), (reply.Id, reply.Size, reply.AverageSize, reply.Hash));
        Assert.Equal((File.GetLastWriteTimeUtc(Root("c.bin")) - DateTime.UnixEpoch).Ticks * 100, reply.ModifiedNs / 100 * 100);

        var list = ChunkListCodec.Decode(frame.Body);
        var expected = new FastCdcChunker(ChunkingParameters.ForAverageSize(8192)).Chunk(data);
        Assert.Equal(ChunkIdWidth.Bits64, list.IdWidth);
        Assert.Equal(expected.Select(c => (c.Offset, c.Length, c.Id.Low64)), list.Chunks.Select(c => (c.Offset, c.Length, c.Id.Low64)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(32)]
    [InlineData(100)]
    [InlineData(8 * 1024 * 1024)]
    [InlineData(-64)]
    public async Task Chunks_refuses_an_average_that_is_not_a_power_of_two_from_64_to_4_MiB(int avg)
    {
        await File.WriteAllTextAsync(Root("c.txt"), "abc");
        Assert.Equal("field_invalid", await Peer.AskAsync(new { cmd = "chunks", id = 1, path = "c.txt", avg }));
    }

    [Fact]
    public async Task Chunks_of_a_folder_a_missing_file_a_fifo_or_a_link_out_is_refused()
    {
        Directory.CreateDirectory(Root("d"));
        MakeFifo(Root("p"));
        await File.WriteAllTextAsync(Outside.Combine("s"), "secret");
        File.CreateSymbolicLink(Root("l"), Outside.Combine("s"));
        Assert.Equal("is_a_directory", await Peer.AskAsync(new { cmd = "chunks", id = 1, path = "d", avg = 64 }));
        Assert.Equal("not_found", await Peer.AskAsync(new { cmd = "chunks", id = 1, path = "nope", avg = 64 }));
        Assert.Equal("io_error", await Peer.AskAsync(new { cmd = "chunks", id = 1, path = "p", avg = 64 }));
        Assert.Equal("path_escapes_root", await Peer.AskAsync(new { cmd = "chunks", id = 1, path = "l", avg = 64 }));
    }

    [Fact]
    public async Task Chunks_refuses_an_average_so_small_that_the_list_would_not_fit_the_servers_bounds()
    {
        using (var sparse = File.Create(Root("big.bin")))
            sparse.SetLength(128L * 1024 * 1024);
        Assert.Equal("field_invalid", await Peer.AskAsync(new { cmd = "chunks", id = 1, path = "big.bin", avg = 64 }));
        Assert.Equal("chunk_list", await Peer.AskAsync(new { cmd = "chunks", id = 2, path = "big.bin", avg = 256 * 1024 }));
    }
}
