using Ferry.Client;
using Ferry.Client.Sync;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Sync.Chunking;
using Ferry.Sync.Delta;
using Ferry.Testing;

namespace Ferry.IntegrationTests.Sync;

/// <summary>A server that offers chunk groups (docs/protocol.md §5.9.6) and lies about them to <see cref="RemoteTree"/>.</summary>
public class HostileServerChunkGroupTests
{
    private const string SomeHash = "0123456789abcdef0123456789abcdef";

    private static CancellationToken Token => TestTimeouts.Token();

    private static void Hello(FrameWriter writer) => writer.WriteHeader(
        new HelloMessage { Version = ProtocolVersion.Current, Features = ["chunk_groups", "chunks", "put_chunks", "scan"] }, FerryJsonContext.Default.HelloMessage);

    private static byte[] Random(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Theory]
    [InlineData(1_000_000, 4)] // more groups than the file has
    [InlineData(1, 40)] // a count that the body does not back
    public async Task A_put_groups_that_lies_fails_that_push_only_and_sends_no_chunks_or_data(int need, int bodyBytes)
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
                    Assert.NotNull(put.Groups); // the client used two levels
                    writer.WriteHeader(new PutGroupsMessage { Id = put.Id!.Value, Need = need, BodySize = bodyBytes }, FerryJsonContext.Default.PutGroupsMessage, bodyBytes);
                    writer.WriteBody(new byte[bodyBytes]);
                    break;
                default:
                    writer.WriteHeader(new OkMessage(), FerryJsonContext.Default.OkMessage);
                    break;
            }
            await Task.CompletedTask;
        });
        using var local = new TempDirectory();
        var data = Random(256 * 1024, 61);
        await File.WriteAllBytesAsync(local.Combine("f.bin"), data);
        await using var client = await FerryClient.ConnectAsync(fake.Address, new FerryClientOptions { UseTls = false }, Token);
        var tree = new RemoteTree(client);

        var outcome = Assert.Single(await tree.PushFilesAsync(
            [new FilePush(local.Combine("f.bin"), "f.bin", data.Length, 420, 0, ["old.bin"], data.Length)], new FileSyncOptions(), new NoObserver(), Token));

        Assert.False(outcome.Succeeded);
        Assert.Equal("field_invalid", outcome.ErrorCode);
        Assert.False(client.IsBroken);
        await tree.MakeDirectoryAsync("d", Token); // still in step
        Assert.DoesNotContain(CommandNames.PutChunks, fake.Commands);
        Assert.DoesNotContain(CommandNames.PutData, fake.Commands);
    }

    [Theory]
    [InlineData(true)] // a group list whose count is not its header's
    [InlineData(false)] // picked chunks that are more than the picked groups hold
    public async Task A_pull_whose_group_list_or_picked_chunks_lie_fetches_the_file_whole(bool lieAboutCount)
    {
        var remote = Random(512 * 1024, 62);
        var avg = ChunkingParameters.ForFileLength(remote.Length).AverageSize;
        var chunks = new FastCdcChunker(ChunkingParameters.ForAverageSize(avg)).Chunk(remote);
        var groups = ChunkGroups.Split(chunks);
        await using var fake = FakeServer.Start(async (header, reader, writer, ct) =>
        {
            switch (header.Command)
            {
                case CommandNames.Hello:
                    Hello(writer);
                    break;
                case CommandNames.Chunks:
                    var request = header.Deserialize(FerryJsonContext.Default.ChunksMessage);
                    byte[] body;
                    int? count = null;
                    if (request.Groups == true)
                    {
                        body = ChunkGroups.Encode(groups);
                        count = lieAboutCount ? groups.Count + 1 : groups.Count;
                    }
                    else
                    {
                        body = ChunkListCodec.Encode(new ChunkList(chunks, ChunkIdWidth.Bits64)); // every chunk, whatever was picked
                    }
                    writer.WriteHeader(new ChunkListMessage { Id = request.Id, Size = remote.Length, Hash = SomeHash, AverageSize = avg, Groups = count, BodySize = body.Length },
                        FerryJsonContext.Default.ChunkListMessage, body.Length);
                    writer.WriteBody(body);
                    break;
                case CommandNames.Get:
                    writer.WriteHeader(new ErrorMessage { Code = "not_found", Message = "gone" }, FerryJsonContext.Default.ErrorMessage);
                    break;
                default:
                    writer.WriteHeader(new OkMessage(), FerryJsonContext.Default.OkMessage);
                    break;
            }
            await Task.CompletedTask;
        });
        using var local = new TempDirectory();
        // A local old version that shares most of the file but not its first part: some groups are picked.
        var old = (byte[])remote.Clone();
        System.Random.Shared.NextBytes(old.AsSpan(0, 100_000));
        await File.WriteAllBytesAsync(local.Combine("f.bin"), old);
        await using var client = await FerryClient.ConnectAsync(fake.Address, new FerryClientOptions { UseTls = false }, Token);
        var tree = new RemoteTree(client);

        var outcome = Assert.Single(await tree.PullFilesAsync(
            [new FilePull("f.bin", local.Combine("f.bin"), remote.Length, 420, 0, [local.Combine("f.bin")], old.Length)], new FileSyncOptions(), new NoObserver(), Token));

        Assert.False(client.IsBroken);
        Assert.Contains(CommandNames.Get, fake.Commands); // fell back to a whole fetch, which this server refuses
        Assert.Equal("not_found", outcome.ErrorCode);
        Assert.Equal(old, await File.ReadAllBytesAsync(local.Combine("f.bin")));
        await tree.MakeDirectoryAsync("d", Token);
    }

    private sealed class NoObserver : IFileSyncObserver
    {
        public void DataMoved(long bytes) { }
        public void FileFinished(FileSyncOutcome outcome) { }
    }
}
