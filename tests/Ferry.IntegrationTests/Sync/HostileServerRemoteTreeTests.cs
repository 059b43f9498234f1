using System.IO.Hashing;
using System.Text;
using Ferry.Client;
using Ferry.Client.Sync;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Sync.Chunking;
using Ferry.Sync.Delta;
using Ferry.Testing;

namespace Ferry.IntegrationTests.Sync;

/// <summary>A server that lies to <see cref="RemoteTree"/>: names that climb out, ranges outside the file, chunk lists and zstd blocks that do not add up.</summary>
[Collection(nameof(MemorySensitive))] // one test measures allocation across the whole process
public class HostileServerRemoteTreeTests
{
    private static CancellationToken Token => TestTimeouts.Token();

    private static Task<FerryClient> ConnectAsync(FakeServer fake) =>
        FerryClient.ConnectAsync(fake.Address, new FerryClientOptions { UseTls = false }, Token);

    private static void Hello(FrameWriter writer) =>
        writer.WriteHeader(new HelloMessage { Version = ProtocolVersion.Current, Features = ["scan", "chunks"] }, FerryJsonContext.Default.HelloMessage);

    [Fact]
    public async Task A_scan_entry_whose_name_climbs_out_is_refused_and_the_connection_stays_usable()
    {
        await using var fake = FakeServer.Start(async (header, reader, writer, ct) =>
        {
            switch (header.Command)
            {
                case CommandNames.Hello:
                    Hello(writer);
                    break;
                case CommandNames.Scan:
                    var body = Encoding.UTF8.GetBytes("""[{"name":"ok.txt","type":"file","size":1},{"name":"../../etc/passwd","type":"file","size":1}]""");
                    writer.WriteHeader(new ScanListMessage { Path = "", Count = 2, More = false, BodySize = body.Length }, FerryJsonContext.Default.ScanListMessage, body.Length);
                    writer.WriteBody(body);
                    break;
                default:
                    writer.WriteHeader(new OkMessage(), FerryJsonContext.Default.OkMessage);
                    break;
            }
            await Task.CompletedTask;
        });
        await using var client = await ConnectAsync(fake);
        var tree = new RemoteTree(client);

        var error = await Assert.ThrowsAsync<FerryProtocolException>(() => tree.ScanAsync("", hashes: false, Token));

        Assert.Equal(FerryErrorCode.PathInvalid, error.Code);
        Assert.False(client.IsBroken);
        await tree.MakeDirectoryAsync("d", Token); // still in step
    }

    [Fact]
    public async Task Needed_ranges_outside_the_file_fail_that_push_only_and_no_data_goes_out()
    {
        await using var fake = FakeServer.Start(async (header, reader, writer, ct) =>
        {
            switch (header.Command)
            {
                case CommandNames.Hello:
                    Hello(writer);
                    break;
                case CommandNames.Put:
                    var put = header.Deserialize(FerryJsonContext.Default.PutMessage);
                    var ranges = new byte[32];
                    BitConverter.TryWriteBytes(ranges.AsSpan(0), 100L);
                    BitConverter.TryWriteBytes(ranges.AsSpan(8), 50L);
                    BitConverter.TryWriteBytes(ranges.AsSpan(16), put.Size!.Value - 10); // past the end
                    BitConverter.TryWriteBytes(ranges.AsSpan(24), 100L);
                    writer.WriteHeader(new PutReadyMessage { Id = put.Id!.Value, NeededRanges = 2, BodySize = 32 }, FerryJsonContext.Default.PutReadyMessage, 32);
                    writer.WriteBody(ranges);
                    break;
                case CommandNames.PutEnd:
                    writer.WriteHeader(new ErrorMessage { Code = "field_invalid", Message = "no data" }, FerryJsonContext.Default.ErrorMessage);
                    break;
            }
            await Task.CompletedTask;
        });
        using var local = new TempDirectory();
        var data = new byte[256 * 1024];
        new Random(1).NextBytes(data);
        await File.WriteAllBytesAsync(local.Combine("f.bin"), data);
        await using var client = await ConnectAsync(fake);

        var outcome = Assert.Single(await new RemoteTree(client).PushFilesAsync(
            [new FilePush(local.Combine("f.bin"), "f.bin", data.Length, 420, 0, ["old.bin"], data.Length)], new FileSyncOptions(), new NoObserver(), Token));

        Assert.False(outcome.Succeeded);
        Assert.Equal("field_invalid", outcome.ErrorCode);
        Assert.False(client.IsBroken);
        Assert.DoesNotContain(CommandNames.PutData, fake.Commands);
    }

    [Fact]
    public async Task A_delta_push_the_server_assembles_wrongly_is_sent_again_whole_once()
    {
        var puts = new List<PutMessage>();
        await using var fake = FakeServer.Start(async (header, reader, writer, ct) =>
        {
            switch (header.Command)
            {
                case CommandNames.Hello:
                    Hello(writer);
                    break;
                case CommandNames.Put:
                    var put = header.Deserialize(FerryJsonContext.Default.PutMessage);
                    puts.Add(put);
                    if (put.Basis is null)
                    {
                        writer.WriteHeader(new PutReadyMessage { Id = put.Id!.Value }, FerryJsonContext.Default.PutReadyMessage);
                        break;
                    }
                    var ranges = new byte[16];
                    BitConverter.TryWriteBytes(ranges.AsSpan(0), 0L);
                    BitConverter.TryWriteBytes(ranges.AsSpan(8), 1000L);
                    writer.WriteHeader(new PutReadyMessage { Id = put.Id!.Value, NeededRanges = 1, BodySize = 16 }, FerryJsonContext.Default.PutReadyMessage, 16);
                    writer.WriteBody(ranges);
                    break;
                case CommandNames.Scan: // the same-size check of the file's hash: this server has no hash to offer
                    writer.WriteHeader(new ErrorMessage { Code = "not_found", Message = "no such file" }, FerryJsonContext.Default.ErrorMessage);
                    break;
                case CommandNames.PutEnd:
                    var end = header.Deserialize(FerryJsonContext.Default.PutEndMessage);
                    var last = puts[^1];
                    if (last.Basis is not null)
                        writer.WriteHeader(new ErrorMessage { Code = "checksum_mismatch", Message = "the basis changed" }, FerryJsonContext.Default.ErrorMessage);
                    else
                        writer.WriteHeader(new TransferDoneMessage { Id = end.Id, Path = last.Path, Size = last.Size!.Value, Checksum = "xxh3-128", Hash = end.Hash },
                            FerryJsonContext.Default.TransferDoneMessage);
                    break;
            }
            await Task.CompletedTask;
        });
        using var local = new TempDirectory();
        var data = new byte[200 * 1024];
        new Random(3).NextBytes(data);
        await File.WriteAllBytesAsync(local.Combine("f.bin"), data);
        await using var client = await ConnectAsync(fake);
        var finished = new List<FileSyncOutcome>();

        var outcome = Assert.Single(await new RemoteTree(client).PushFilesAsync(
            [new FilePush(local.Combine("f.bin"), "f.bin", data.Length, 420, 0, ["f.bin"], data.Length)], new FileSyncOptions(), new Recorder(finished), Token));

        Assert.True(outcome.Succeeded, outcome.ErrorMessage);
        Assert.False(outcome.Delta);
        Assert.Equal(2, puts.Count);
        Assert.Null(puts[1].Basis);
        Assert.True(puts[1].Force);
        Assert.Equal(1000 + data.Length, outcome.BytesSent); // the delta's range, then the whole file
        Assert.Single(finished); // one report per file, after the retry
    }

    [Fact]
    public async Task A_chunk_list_that_does_not_describe_the_file_makes_the_pull_fetch_it_whole()
    {
        var content = new byte[100_000];
        new Random(2).NextBytes(content);
        var lie = ChunkListCodec.Encode(new ChunkList([new Chunk(0, 500, ChunkId.Of(content.AsSpan(0, 500)))], ChunkIdWidth.Bits64));
        var hash = Convert.ToHexStringLower(XxHash128.Hash(content));
        await using var fake = FakeServer.Start(async (header, reader, writer, ct) =>
        {
            switch (header.Command)
            {
                case CommandNames.Hello:
                    Hello(writer);
                    break;
                case CommandNames.Chunks:
                    var chunks = header.Deserialize(FerryJsonContext.Default.ChunksMessage);
                    writer.WriteHeader(new ChunkListMessage { Id = chunks.Id, Size = content.Length, Hash = hash, AverageSize = chunks.AverageSize, BodySize = lie.Length },
                        FerryJsonContext.Default.ChunkListMessage, lie.Length);
                    writer.WriteBody(lie);
                    break;
                case CommandNames.Get:
                    var get = header.Deserialize(FerryJsonContext.Default.GetMessage);
                    writer.WriteHeader(new FileDataMessage { Id = get.Id, Path = get.Path, Size = content.Length, BodySize = content.Length }, FerryJsonContext.Default.FileDataMessage, content.Length);
                    writer.WriteBody(content);
                    writer.WriteHeader(new TransferDoneMessage { Id = get.Id, Path = get.Path, Size = content.Length, Checksum = "xxh3-128", Hash = hash }, FerryJsonContext.Default.TransferDoneMessage);
                    break;
            }
            await Task.CompletedTask;
        });
        using var local = new TempDirectory();
        var path = local.Combine("f.bin");
        await File.WriteAllBytesAsync(path, new byte[90_000]);
        await using var client = await ConnectAsync(fake);

        var outcome = Assert.Single(await new RemoteTree(client).PullFilesAsync(
            [new FilePull("f.bin", path, content.Length, 420, 0, [path], 90_000)], new FileSyncOptions(), new NoObserver(), Token));

        Assert.True(outcome.Succeeded, outcome.ErrorMessage);
        Assert.False(outcome.Delta);
        Assert.Equal(content, await File.ReadAllBytesAsync(path));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("too_large")]
    [InlineData("lies_about_size")]
    public async Task A_zstd_block_that_does_not_add_up_breaks_the_connection_and_keeps_nothing(string lie)
    {
        var content = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("compressible ", 2000)));
        await using var fake = FakeServer.Start(async (header, reader, writer, ct) =>
        {
            switch (header.Command)
            {
                case CommandNames.Hello:
                    Hello(writer);
                    break;
                case CommandNames.Get:
                    var get = header.Deserialize(FerryJsonContext.Default.GetMessage);
                    Assert.Equal("zstd", get.Encoding);
                    using (var compressor = new ZstdSharp.Compressor(3))
                    {
                        var packed = compressor.Wrap(content).ToArray();
                        var (body, raw) = lie switch
                        {
                            "garbage" => (Encoding.ASCII.GetBytes("not zstd at all"), content.Length),
                            "too_large" => (packed, 17 * 1024 * 1024),
                            _ => (packed, content.Length - 1),
                        };
                        writer.WriteHeader(new FileDataMessage { Id = get.Id, Path = get.Path, Size = content.Length, BodySize = body.Length, Encoding = "zstd", RawSize = raw },
                            FerryJsonContext.Default.FileDataMessage, body.Length);
                        writer.WriteBody(body);
                    }
                    break;
            }
            await Task.CompletedTask;
        });
        using var local = new TempDirectory();
        await using var client = await ConnectAsync(fake);

        await Assert.ThrowsAsync<FerryProtocolException>(() => new RemoteTree(client).PullFilesAsync(
            [new FilePull("f.txt", local.Combine("f.txt"), content.Length, 420, 0, [], 0)], new FileSyncOptions { Compress = true }, new NoObserver(), Token));

        Assert.True(client.IsBroken);
        Assert.False(File.Exists(local.Combine("f.txt")));
    }

    [Theory]
    [InlineData("rawsize_short", FerryErrorCode.FieldInvalid, "decompresses to more than")]
    [InlineData("rawsize_long", FerryErrorCode.FieldInvalid, "not the")]
    [InlineData("rawsize_huge", FerryErrorCode.FieldInvalid, "not the 67108864")]
    [InlineData("rawsize_above_max", FerryErrorCode.BodyTooLarge, "more than the")]
    [InlineData("rawsize_missing", FerryErrorCode.FieldInvalid, "rawsize missing")]
    [InlineData("garbage", FerryErrorCode.FieldInvalid, "not valid zstd")]
    [InlineData("truncated", FerryErrorCode.FieldInvalid, "not valid zstd")]
    [InlineData("huge_window", FerryErrorCode.FieldInvalid, "not valid zstd")]
    [InlineData("trailing_garbage", FerryErrorCode.FieldInvalid, "zstd")]
    [InlineData("not_json", FerryErrorCode.FieldInvalid, "not a JSON array")]
    [InlineData("other_encoding", FerryErrorCode.FieldInvalid, "did not ask for")]
    public async Task A_zstd_scan_page_that_lies_breaks_the_connection_with_a_clear_error_and_no_large_allocation(string lie, FerryErrorCode code, string says)
    {
        var json = Encoding.UTF8.GetBytes(string.Concat("[", string.Join(",", Enumerable.Range(0, 200).Select(i => $$"""{"name":"f{{i}}","type":"file","size":{{i + 1}}}""")), "]"));
        string? asked = null;
        await using var fake = FakeServer.Start(async (header, reader, writer, ct) =>
        {
            switch (header.Command)
            {
                case CommandNames.Hello:
                    Hello(writer);
                    break;
                case CommandNames.Scan:
                    asked = header.Deserialize(FerryJsonContext.Default.ScanMessage).Encoding;
                    using (var compressor = new ZstdSharp.Compressor(3))
                    {
                        var packed = compressor.Wrap(lie == "not_json" ? Encoding.UTF8.GetBytes("{not json at all}") : json).ToArray();
                        var (body, raw) = lie switch
                        {
                            "rawsize_short" => (packed, (int?)json.Length - 1),
                            "rawsize_long" => (packed, json.Length + 1),
                            "rawsize_huge" => (packed, ScanListMessage.MaxPageBytes),
                            "rawsize_above_max" => (packed, ScanListMessage.MaxPageBytes + 1),
                            "rawsize_missing" => (packed, null),
                            "garbage" => (Encoding.ASCII.GetBytes("definitely not a zstd frame"), json.Length),
                            "truncated" => (packed[..^8], json.Length),
                            "huge_window" => (HugeWindowFrame(json), json.Length),
                            "trailing_garbage" => ([.. packed, .. "xyzw"u8.ToArray()], json.Length),
                            "not_json" => (packed, 17),
                            _ => (packed, json.Length),
                        };
                        writer.WriteHeader(new ScanListMessage
                        {
                            Path = "",
                            Count = 200,
                            More = false,
                            BodySize = body.Length,
                            Encoding = lie == "other_encoding" ? "brotli" : "zstd",
                            RawSize = raw,
                        }, FerryJsonContext.Default.ScanListMessage, body.Length);
                        writer.WriteBody(body);
                    }
                    break;
                default:
                    writer.WriteHeader(new OkMessage(), FerryJsonContext.Default.OkMessage);
                    break;
            }
            await Task.CompletedTask;
        });
        await using var client = await ConnectAsync(fake);
        var tree = new RemoteTree(client);

        var before = GC.GetTotalAllocatedBytes(precise: true);
        var error = await Assert.ThrowsAsync<FerryProtocolException>(() => tree.ScanAsync("", hashes: false, Token));
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        Assert.Equal("zstd", asked);
        Assert.Equal(code, error.Code);
        Assert.Contains(says, error.Message, StringComparison.Ordinal);
        Assert.True(client.IsBroken);
        // A rawsize of up to 64 MiB that the body does not back is never allocated up front (the whole process counts here).
        Assert.True(allocated < 32L * 1024 * 1024, $"{allocated} bytes allocated while reading a lying page");
    }

    [Fact]
    public async Task A_zstd_scan_page_that_adds_up_is_read_by_the_client()
    {
        var json = Encoding.UTF8.GetBytes("""[{"name":"d","type":"dir","mtime_ns":5,"mode":493},{"name":"d/f","type":"file","size":3,"mtime_ns":7,"mode":420}]""");
        await using var fake = FakeServer.Start(async (header, reader, writer, ct) =>
        {
            switch (header.Command)
            {
                case CommandNames.Hello:
                    Hello(writer);
                    break;
                case CommandNames.Scan:
                    using (var compressor = new ZstdSharp.Compressor(3))
                    {
                        var packed = compressor.Wrap(json).ToArray();
                        writer.WriteHeader(new ScanListMessage { Path = "", Count = 2, More = false, BodySize = packed.Length, Encoding = "zstd", RawSize = json.Length },
                            FerryJsonContext.Default.ScanListMessage, packed.Length);
                        writer.WriteBody(packed);
                    }
                    break;
            }
            await Task.CompletedTask;
        });
        await using var client = await ConnectAsync(fake);

        var entries = await new RemoteTree(client).ScanAsync("", hashes: false, Token);

        Assert.Equal([("d", "dir", 0L, 5L, (int?)493), ("d/f", "file", 3L, 7L, 420)], entries!.Select(e => (e.Name, e.Type, e.Size, e.ModifiedNs, e.Mode)));
        Assert.False(client.IsBroken);
    }

    /// <summary>
    /// A hand-made zstd frame holding <paramref name="content"/> as one raw block, whose header asks for a 128 MiB window
    /// (window descriptor exponent 17: 2^(10+17)) and gives no content size, so a decoder that streams it would allocate it.
    /// </summary>
    private static byte[] HugeWindowFrame(byte[] content)
    {
        var blockHeader = 1 | (content.Length << 3); // last block, raw
        return [0x28, 0xB5, 0x2F, 0xFD, 0x00, 17 << 3, (byte)blockHeader, (byte)(blockHeader >> 8), (byte)(blockHeader >> 16), .. content];
    }

    private sealed class Recorder(List<FileSyncOutcome> finished) : IFileSyncObserver
    {
        public void DataMoved(long bytes) { }
        public void FileFinished(FileSyncOutcome outcome)
        {
            lock (finished)
                finished.Add(outcome);
        }
    }

    private sealed class NoObserver : IFileSyncObserver
    {
        public void DataMoved(long bytes) { }
        public void FileFinished(FileSyncOutcome outcome) { }
    }
}
