using System.Text.Json;
using Ferry.Protocol.Messages;
using Ferry.Testing;
using ZstdSharp;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests.Sync;

/// <summary>zstd-encoded put_data and get (docs/protocol.md §5.9.4), with bodies that lie.</summary>
public class CompressedDataTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private SyncPeer _peer = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _peer = await SyncPeer.ConnectAsync(_server);
    }

    public async Task DisposeAsync()
    {
        await _peer.DisposeAsync();
        await _server.DisposeAsync();
    }

    private string Root(string relative) => Path.Combine(_server.Root, relative);

    private static byte[] Compress(ReadOnlySpan<byte> data)
    {
        using var compressor = new Compressor(3);
        return compressor.Wrap(data).ToArray();
    }

    /// <summary>Text-like data that compresses well.</summary>
    private static byte[] Compressible(int size)
    {
        var data = new byte[size];
        var random = new Random(5);
        for (var i = 0; i < size; i++)
            data[i] = (byte)('a' + (i % 7 == 0 ? random.Next(26) : i % 13));
        return data;
    }

    /// <summary>Opens a put of <paramref name="size"/> bytes, sends the given put_data frames and returns put_end's reply.</summary>
    private async Task<string> PutAsync(string path, byte[] whole, params (object Header, byte[] Body)[] frames)
    {
        await _peer.SendAsync(new { cmd = "put", id = 1, path, size = whole.Length, force = true });
        Assert.Equal("put_ready", await _peer.ReadCodeAsync());
        foreach (var (header, body) in frames)
            await _peer.SendAsync(header, body);
        await _peer.SendAsync(new { cmd = "put_end", id = 1, hash = Hex(whole) });
        return await _peer.ReadCodeAsync();
    }

    [Fact]
    public async Task Zstd_put_data_is_decompressed_into_place()
    {
        var data = Compressible(3_000_000);
        var first = Compress(data.AsSpan(0, 1_000_000));
        var second = Compress(data.AsSpan(1_000_000));
        Assert.Equal("done", await PutAsync("z.txt", data,
            (new { cmd = "put_data", id = 1, offset = 0, bodysize = first.Length, encoding = "zstd", rawsize = 1_000_000 }, first),
            (new { cmd = "put_data", id = 1, offset = 1_000_000, bodysize = second.Length, encoding = "zstd", rawsize = 2_000_000 }, second)));
        Assert.Equal(data, await File.ReadAllBytesAsync(Root("z.txt")));
    }

    [Theory]
    [InlineData("rawsize too small")]
    [InlineData("rawsize too large")]
    [InlineData("garbage")]
    [InlineData("truncated")]
    [InlineData("no rawsize")]
    [InlineData("negative rawsize")]
    [InlineData("rawsize over 16 MiB")]
    [InlineData("unknown encoding")]
    public async Task A_zstd_body_that_lies_fails_the_upload(string lie)
    {
        var data = Compressible(100_000);
        var packed = Compress(data);
        object header = lie switch
        {
            "rawsize too small" => new { cmd = "put_data", id = 1, offset = 0, bodysize = packed.Length, encoding = "zstd", rawsize = 99_999 },
            "rawsize too large" => new { cmd = "put_data", id = 1, offset = 0, bodysize = packed.Length, encoding = "zstd", rawsize = 100_001 },
            "no rawsize" => new { cmd = "put_data", id = 1, offset = 0, bodysize = packed.Length, encoding = "zstd" },
            "negative rawsize" => new { cmd = "put_data", id = 1, offset = 0, bodysize = packed.Length, encoding = "zstd", rawsize = -1 },
            "rawsize over 16 MiB" => new { cmd = "put_data", id = 1, offset = 0, bodysize = packed.Length, encoding = "zstd", rawsize = 16 * 1024 * 1024 + 1 },
            "unknown encoding" => new { cmd = "put_data", id = 1, offset = 0, bodysize = packed.Length, encoding = "gzip", rawsize = 100_000 },
            _ => new { cmd = "put_data", id = 1, offset = 0, bodysize = lie == "garbage" ? 5000 : packed.Length / 2, encoding = "zstd", rawsize = 100_000 },
        };
        var body = lie switch
        {
            "garbage" => RandomBytes(5000, 40),
            "truncated" => packed[..(packed.Length / 2)],
            _ => packed,
        };
        Assert.Equal("field_invalid", await PutAsync("lie.txt", data, (header, body)));
        Assert.False(File.Exists(Root("lie.txt")));
        // The connection goes on.
        Assert.Equal("done", await PutAsync("ok.txt", data, (new { cmd = "put_data", id = 1, offset = 0, bodysize = data.Length }, data)));
    }

    [Fact]
    public async Task A_zstd_bomb_larger_than_its_rawsize_is_refused_without_growing()
    {
        // 64 MiB of zeros in a few KiB, declared as 16 MiB.
        var bomb = Compress(new byte[64 * 1024 * 1024]);
        var whole = new byte[16 * 1024 * 1024];
        Assert.Equal("field_invalid", await PutAsync("bomb.bin", whole,
            (new { cmd = "put_data", id = 1, offset = 0, bodysize = bomb.Length, encoding = "zstd", rawsize = whole.Length }, bomb)));
        Assert.False(File.Exists(Root("bomb.bin")));
    }

    [Fact]
    public async Task Get_with_zstd_sends_compressed_blocks_of_at_most_4_MiB_and_raw_ones_that_do_not_shrink()
    {
        var text = Compressible(9 * 1024 * 1024 + 5);
        await File.WriteAllBytesAsync(Root("t.txt"), text);
        var (frames, assembled, done) = await GetAsync(new { cmd = "get", id = 3, path = "t.txt", offset = 0, encoding = "zstd" });
        Assert.Equal(text, assembled);
        Assert.Equal([0L, 4L << 20, 8L << 20], frames.Select(f => f.Offset));
        Assert.All(frames, f => Assert.Equal("zstd", f.Encoding));
        Assert.All(frames, f => Assert.True(f.BodySize < f.RawSize));
        Assert.Equal(Hex(text), done.Hash);

        var noise = RandomBytes(5 * 1024 * 1024, 41);
        await File.WriteAllBytesAsync(Root("n.bin"), noise);
        (frames, assembled, done) = await GetAsync(new { cmd = "get", id = 4, path = "n.bin", offset = 1000, length = 4_500_000, encoding = "zstd" });
        Assert.Equal(noise.AsSpan(1000, 4_500_000).ToArray(), assembled);
        Assert.All(frames, f => Assert.Null(f.Encoding));
        Assert.Equal([1000L, 1000L + (4 << 20)], frames.Select(f => f.Offset));
        Assert.Equal(Hex(noise), done.Hash);

        Assert.Equal("field_invalid", await _peer.AskAsync(new { cmd = "get", id = 5, path = "n.bin", offset = 0, encoding = "brotli" }));
    }

    private async Task<(List<FileDataMessage> Frames, byte[] Assembled, TransferDoneMessage Done)> GetAsync(object request)
    {
        await _peer.SendAsync(request);
        var frames = new List<FileDataMessage>();
        var assembled = new MemoryStream();
        while (true)
        {
            var frame = await _peer.ReadAsync();
            if (frame.Command == "done")
                return (frames, assembled.ToArray(), JsonSerializer.Deserialize(frame.Json, FerryJsonContext.Default.TransferDoneMessage)!);
            Assert.True(frame.Command == "file", frame.Json);
            var file = JsonSerializer.Deserialize(frame.Json, FerryJsonContext.Default.FileDataMessage)!;
            frames.Add(file);
            if (file.Encoding == "zstd")
            {
                using var decompressor = new Decompressor();
                var raw = decompressor.Unwrap(frame.Body).ToArray();
                Assert.Equal(file.RawSize, raw.Length);
                assembled.Write(raw);
            }
            else
            {
                assembled.Write(frame.Body);
            }
        }
    }
}
