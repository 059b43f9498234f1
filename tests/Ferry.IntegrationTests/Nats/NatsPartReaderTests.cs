using System.IO.Pipelines;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Server.Storage.Nats;
using Ferry.Testing;
using NATS.Client.JetStream.Models;
using NATS.Client.ObjectStore.Models;

namespace Ferry.IntegrationTests.Nats;

/// <summary>
/// Reading a part's chunks: where they lie in the data stream (right before the object's record, or scattered among
/// another put's), a part with a chunk missing, a read that races an overwrite, and one that races the sweep of its parts.
/// </summary>
public sealed class NatsPartReaderTests(NatsClusterFixture nats) : IClassFixture<NatsClusterFixture>
{
    private static CancellationToken Token => TestTimeouts.Token();

    [Theory]
    [InlineData("p.contiguous.1")] // names of every length modulo 3: the record's subject with and without padding
    [InlineData("p.contiguous.10")]
    [InlineData("p.contiguous.100")]
    public async Task A_part_stored_in_one_piece_reads_back_whole(string name)
    {
        await using var buckets = await NatsBuckets.OpenAsync(Options(), Token);
        var bytes = Bytes(4 * 1024 * 1024 - 5, seed: name.Length);
        await buckets.Data.PutAsync(new ObjectMetadata { Name = name, Options = new MetaDataOptions { MaxChunkSize = 512 * 1024 } },
            new MemoryStream(bytes), cancellationToken: Token);

        Assert.Equal(bytes, await ReadAsync(buckets, name));
    }

    [Fact]
    public async Task A_part_whose_first_chunk_lies_far_before_the_rest_reads_back_whole()
    {
        // Part a's first chunk, then 300 messages of another put, then a's other chunks and its record: the chunks right
        // before the record are not all of a's, and the search has to reach back past the other put.
        await using var buckets = await NatsBuckets.OpenAsync(Options(), Token);
        var a = Bytes(8 * 512 * 1024, seed: 1);
        var b = Bytes(300 * 1024, seed: 2);
        var feed = new Pipe();
        var putA = buckets.Data.PutAsync(new ObjectMetadata { Name = "p.a.0", Options = new MetaDataOptions { MaxChunkSize = 512 * 1024 } },
            feed.Reader.AsStream(), cancellationToken: Token).AsTask();
        await feed.Writer.WriteAsync(a.AsMemory(0, 512 * 1024 + 1), Token); // a whole chunk, and one byte so that it is sent
        await WaitForChunksAsync(buckets, 1);
        await buckets.Data.PutAsync(new ObjectMetadata { Name = "p.b.0", Options = new MetaDataOptions { MaxChunkSize = 1024 } },
            new MemoryStream(b), cancellationToken: Token);
        await feed.Writer.WriteAsync(a.AsMemory(512 * 1024 + 1), Token);
        await feed.Writer.CompleteAsync();
        await putA;

        Assert.Equal(a, await ReadAsync(buckets, "p.a.0"));
        Assert.Equal(b, await ReadAsync(buckets, "p.b.0"));
    }

    [Fact]
    public async Task A_part_with_a_chunk_missing_fails_as_broken_instead_of_returning_a_shorter_part()
    {
        await using var buckets = await NatsBuckets.OpenAsync(Options(), Token);
        var bytes = Bytes(2 * 1024 * 1024, seed: 3);
        var info = await buckets.Data.PutAsync(new ObjectMetadata { Name = "p.gap.0", Options = new MetaDataOptions { MaxChunkSize = 512 * 1024 } },
            new MemoryStream(bytes), cancellationToken: Token);
        var subject = buckets.ChunkSubject(info.Nuid!);
        var first = await buckets.DataStream.GetAsync(new StreamMsgGetRequest { Seq = 1, NextBySubj = subject }, Token);
        await buckets.DataStream.DeleteMessageAsync(new StreamMsgDeleteRequest { Seq = first.Message.Seq, NoErase = true }, Token);

        var broken = await Assert.ThrowsAsync<FerryException>(() => ReadAsync(buckets, "p.gap.0"));
        Assert.Equal(FerryErrorCode.IoError, broken.Code);
    }

    [Fact]
    public async Task A_read_racing_an_overwrite_finishes_the_old_file()
    {
        await using var pair = await NatsServerPair.StartAsync(nats.Cluster);
        using var local = new TempDirectory();
        var first = TestFiles.Create(local.Combine("first.bin"), 20 * 1024 * 1024 + 7, seed: 11);
        var second = TestFiles.Create(local.Combine("second.bin"), 20 * 1024 * 1024 + 9, seed: 12);
        await using var a = await pair.LoginAsync(pair.A);
        await a.PutFileAsync(first, "f.bin", cancellationToken: Token);
        await using var buckets = await NatsBuckets.OpenAsync(pair.Options, Token);
        var entry = await EntryAsync(buckets, "f.bin");
        var expected = await File.ReadAllBytesAsync(first, Token);

        // Overwritten while a reader is in the middle of it: the reader goes on with the parts it started with.
        await using (var reader = new NatsObjectCursor(buckets, entry.Parts!, entry.PartSize, 0))
        {
            var head = await ReadSomeAsync(reader, 1024 * 1024);
            await a.PutFileAsync(second, "f.bin", new PutOptions { Force = true }, cancellationToken: Token);
            var rest = await ReadSomeAsync(reader, int.MaxValue);
            Assert.Equal(expected, head.Concat(rest).ToArray());
        }

        await a.GetFileAsync("f.bin", local.Combine("back.bin"), cancellationToken: Token);
        TestFiles.AssertSame(second, local.Combine("back.bin"));
    }

    [Fact]
    public async Task A_read_racing_the_sweep_of_its_parts_gives_the_whole_old_file_or_io_error_after_old_bytes_only()
    {
        await using var pair = await NatsServerPair.StartAsync(nats.Cluster);
        using var local = new TempDirectory();
        var first = TestFiles.Create(local.Combine("first.bin"), 20 * 1024 * 1024 + 7, seed: 13);
        var second = TestFiles.Create(local.Combine("second.bin"), 20 * 1024 * 1024 + 9, seed: 14);
        await using var a = await pair.LoginAsync(pair.A);
        await using var b = await pair.LoginAsync(pair.B);
        await using var buckets = await NatsBuckets.OpenAsync(pair.Options, Token);
        await a.PutFileAsync(first, "f.bin", cancellationToken: Token);
        var firstParts = (await EntryAsync(buckets, "f.bin")).Parts!;
        await a.PutFileAsync(second, "f.bin", new PutOptions { Force = true }, cancellationToken: Token);
        var entry = await EntryAsync(buckets, "f.bin");
        var expected = await File.ReadAllBytesAsync(second, Token);

        // Two readers in the middle of the second contents when they are replaced, and the sweep removing both replaced
        // versions' parts: one reader goes on while the sweep runs (it may get every part before the sweep reaches them,
        // or not), the other waits until the sweep is over, by when the parts it had not fetched yet are gone (a reader
        // holds the part it copies and the next one at most).
        await using (var racing = new NatsObjectCursor(buckets, entry.Parts!, entry.PartSize, 0))
        await using (var paused = new NatsObjectCursor(buckets, entry.Parts!, entry.PartSize, 0))
        {
            var racingHead = await ReadSomeAsync(racing, 1024 * 1024);
            var pausedHead = await ReadSomeAsync(paused, 1024 * 1024);
            await a.PutFileAsync(first, "f.bin", new PutOptions { Force = true }, cancellationToken: Token);
            var reading = Task.Run(() => ReadRestAsync(racing));
            var (swept, _) = await pair.ProviderOf(pair.A).SweepPartialUploadsAsync(DateTimeOffset.UtcNow + TimeSpan.FromMinutes(1),
                TestTimeouts.Token(TimeSpan.FromSeconds(90)));
            Assert.Equal(firstParts.Count + entry.Parts!.Count, swept);

            var (racingRest, racingFailure) = await reading;
            var given = racingHead.Concat(racingRest).ToArray();
            if (racingFailure is null)
                Assert.Equal(expected, given); // it had every part in hand before the sweep reached them
            else
                AssertCleanFailure(racingFailure, given, expected);

            var (pausedRest, pausedFailure) = await ReadRestAsync(paused);
            AssertCleanFailure(Assert.IsType<FerryException>(pausedFailure), pausedHead.Concat(pausedRest).ToArray(), expected);
        }

        // The store goes on: only the current contents' parts are left, and both servers serve them, list and store.
        var now = (await EntryAsync(buckets, "f.bin")).Parts!;
        Assert.Equal(now.Order(StringComparer.Ordinal), (await buckets.ListObjectsAsync(Token)).Select(o => o.Name).Order(StringComparer.Ordinal));
        await b.GetFileAsync("f.bin", local.Combine("back.bin"), cancellationToken: Token);
        TestFiles.AssertSame(first, local.Combine("back.bin"));
        await b.PutFileAsync(second, "g.bin", cancellationToken: Token);
        Assert.Equal(["f.bin", "g.bin"], (await a.ListAsync("", cancellationToken: Token)).Select(e => e.Name).Order(StringComparer.Ordinal));
    }

    private NatsStoreOptions Options() => NatsStoreOptions.Parse(nats.Cluster.Url) with { BucketPrefix = "r" + NatsKeys.NewId()[..10] };

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task<byte[]> ReadAsync(NatsBuckets buckets, string part)
    {
        var into = new MemoryStream();
        await NatsPartReader.CopyAsync(buckets, part, into, Token);
        return into.ToArray();
    }

    private static async Task<byte[]> ReadSomeAsync(NatsObjectCursor reader, int count)
    {
        var into = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (into.Length < count)
        {
            var n = await reader.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count - into.Length)), Token);
            if (n == 0)
                break;
            into.Write(buffer, 0, n);
        }
        return into.ToArray();
    }

    /// <summary>The rest of the file as far as it could be read, and what ended the read early, if anything.</summary>
    private static async Task<(byte[] Bytes, Exception? Failure)> ReadRestAsync(NatsObjectCursor reader)
    {
        var rest = new MemoryStream();
        var buffer = new byte[64 * 1024];
        try
        {
            int n;
            while ((n = await reader.ReadAsync(buffer, Token)) > 0)
                rest.Write(buffer, 0, n);
            return (rest.ToArray(), null);
        }
        catch (Exception ex)
        {
            return (rest.ToArray(), ex);
        }
    }

    /// <summary>A read that failed as io_error after bytes of the expected file only: fewer of them, never another file's.</summary>
    private static void AssertCleanFailure(Exception failure, byte[] given, byte[] expected)
    {
        Assert.Equal(FerryErrorCode.IoError, Assert.IsType<FerryException>(failure).Code);
        Assert.True(given.Length < expected.Length);
        Assert.Equal(expected.AsSpan(0, given.Length).ToArray(), given);
    }

    private static async Task<NatsEntry> EntryAsync(NatsBuckets buckets, string name) =>
        (await buckets.GetAsync(NatsKeys.Entry(NatsKeys.Token("ana"), NatsKeys.RootId, name), Token))?.Entry
        ?? throw new InvalidOperationException($"no entry {name}");

    /// <summary>Waits (with a deadline) until the data stream holds at least <paramref name="count"/> messages.</summary>
    private static async Task WaitForChunksAsync(NatsBuckets buckets, long count)
    {
        var deadline = DateTime.UtcNow + TestTimeouts.Default;
        while (true)
        {
            await buckets.DataStream.RefreshAsync(Token);
            if ((long)buckets.DataStream.Info.State.Messages >= count)
                return;
            Assert.True(DateTime.UtcNow < deadline, "the first chunk was never stored");
            await Task.Delay(20, Token);
        }
    }
}
