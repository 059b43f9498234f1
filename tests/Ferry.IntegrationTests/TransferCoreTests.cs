using Ferry.Client;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// Parallel streams go through the same pipeline as single-stream transfers: the same part-file names, resume, time
/// preference and broken-connection rule; and every reply is read by one reader that marks a failing connection broken.
/// </summary>
public class TransferCoreTests
{
    private const int MiB = 1024 * 1024;
    private static readonly DateTime Then = new(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc);

    [Fact]
    public async Task A_parallel_get_of_a_file_with_a_250_byte_name_arrives_through_the_hashed_part_name()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var name = new string('n', 246) + ".bin";
        var source = TestFiles.Create(Path.Combine(server.Root, name), 3 * MiB + 5, seed: 11);
        await using var client = await server.ConnectAsync();

        var result = await client.GetFileParallelAsync(name, local.Combine(name), 3, cancellationToken: TestTimeouts.Token());

        Assert.Equal(3 * MiB + 5, result.Bytes);
        TestFiles.AssertSame(source, local.Combine(name));
        Assert.Equal([name], Directory.GetFiles(local.Path).Select(Path.GetFileName));
        Assert.True(server.Logs.Lines.Count(l => l.EventId.Id == 2000) >= 2, "the ranges went over more than one connection");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_parallel_put_gives_the_remote_file_the_local_time_only_when_asked(bool preserve)
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("t.bin"), 3 * MiB + 1, seed: 12);
        File.SetLastWriteTimeUtc(source, Then);
        await using var client = await server.ConnectAsync();

        await client.PutFileParallelAsync(source, "t.bin", 3, new PutOptions { PreserveModifiedTime = preserve }, cancellationToken: TestTimeouts.Token());

        var remote = Path.Combine(server.Root, "t.bin");
        TestFiles.AssertSame(source, remote);
        if (preserve)
            Assert.Equal(Then, File.GetLastWriteTimeUtc(remote));
        else
            Assert.True(File.GetLastWriteTimeUtc(remote) > DateTime.UtcNow.AddDays(-1), "the remote file kept the upload's own time");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_parallel_get_gives_the_local_file_the_remote_time_only_when_asked(bool preserve)
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var source = TestFiles.Create(Path.Combine(server.Root, "t.bin"), 3 * MiB + 1, seed: 13);
        File.SetLastWriteTimeUtc(source, Then);
        await using var client = await server.ConnectAsync();

        await client.GetFileParallelAsync("t.bin", local.Combine("t.bin"), 3, new GetOptions { PreserveModifiedTime = preserve }, cancellationToken: TestTimeouts.Token());

        TestFiles.AssertSame(source, local.Combine("t.bin"));
        if (preserve)
            Assert.Equal(Then, File.GetLastWriteTimeUtc(local.Combine("t.bin")));
        else
            Assert.True(File.GetLastWriteTimeUtc(local.Combine("t.bin")) > DateTime.UtcNow.AddDays(-1), "the local file kept the download's own time");
    }

    [Fact]
    public async Task A_parallel_get_with_resume_keeps_the_matching_chunks_of_the_part_file_and_fetches_the_rest()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var source = TestFiles.Create(Path.Combine(server.Root, "r.bin"), 10 * MiB, seed: 14);
        // What an interrupted download left: the first 5 MiB, under the name every get uses.
        var part = LocalFiles.PartPathFor(local.Combine("r.bin"));
        var prefix = new byte[5 * MiB];
        await using (var stream = File.OpenRead(source))
            await stream.ReadExactlyAsync(prefix);
        await File.WriteAllBytesAsync(part, prefix);
        await using var client = await server.ConnectAsync();

        var result = await client.GetFileParallelAsync("r.bin", local.Combine("r.bin"), 3, new GetOptions { Resume = true }, cancellationToken: TestTimeouts.Token());

        TestFiles.AssertSame(source, local.Combine("r.bin"));
        Assert.Equal(FerryClient.ResumeChunkSize, result.ResumedFrom); // whole 4 MiB chunks are kept
        Assert.Equal(10 * MiB - FerryClient.ResumeChunkSize, result.BytesTransferred);
        Assert.False(File.Exists(part));
    }

    [Fact]
    public async Task A_corrupted_part_file_is_not_resumed_by_a_parallel_get()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var source = TestFiles.Create(Path.Combine(server.Root, "r.bin"), 6 * MiB, seed: 15);
        await File.WriteAllBytesAsync(LocalFiles.PartPathFor(local.Combine("r.bin")), new byte[5 * MiB]); // zeros: nothing matches
        await using var client = await server.ConnectAsync();

        var result = await client.GetFileParallelAsync("r.bin", local.Combine("r.bin"), 2, new GetOptions { Resume = true }, cancellationToken: TestTimeouts.Token());

        Assert.Equal(0, result.ResumedFrom);
        TestFiles.AssertSame(source, local.Combine("r.bin"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_parallel_transfer_whose_connections_die_leaves_the_client_broken_and_no_final_file(bool upload)
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var size = 24L * MiB;
        if (upload)
            TestFiles.Create(local.Combine("big.bin"), size, seed: 16);
        else
            TestFiles.Create(Path.Combine(server.Root, "big.bin"), size, seed: 16);
        // The relay stands still after 3 MiB in the transfer's direction; then the server's connections die with it.
        var relay = LoopbackRelay.Start(server.EndPoint, upstreamBudget: upload ? 3 * MiB : long.MaxValue, downstreamBudget: upload ? long.MaxValue : 3 * MiB);
        await using var client = await FerryClient.ConnectAsync(new ServerAddress("127.0.0.1", relay.EndPoint.Port), new FerryClientOptions { UseTls = false }, TestTimeouts.Token());

        var transfer = upload
            ? client.PutFileParallelAsync(local.Combine("big.bin"), "big.bin", 4, cancellationToken: TestTimeouts.Token())
            : client.GetFileParallelAsync("big.bin", local.Combine("big.bin"), 4, cancellationToken: TestTimeouts.Token());
        await relay.Held.WaitAsync(TestTimeouts.Token());
        await relay.DisposeAsync();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => transfer);
        Assert.True(error is IOException or FerryException or OperationCanceledException, error.ToString());
        Assert.True(client.IsBroken);
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.StatAsync("big.bin", TestTimeouts.Token()));
        if (upload)
            Assert.False(File.Exists(Path.Combine(server.Root, "big.bin")));
        else
            Assert.False(File.Exists(local.Combine("big.bin")));
    }

    [Fact]
    public async Task Parallel_progress_only_grows_and_ends_before_completion_is_reported()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("p.bin"), 12 * MiB + 3, seed: 17);
        await using var client = await server.ConnectAsync();
        var events = new EventLog();

        await client.PutFileParallelAsync(source, "p.bin", 4, observer: events, cancellationToken: TestTimeouts.Token());
        await client.GetFileParallelAsync("p.bin", local.Combine("back.bin"), 4, observer: events, cancellationToken: TestTimeouts.Token());

        var log = events.Entries;
        Assert.Equal(["started", "completed", "started", "completed"], log.Where(e => e.Kind != "progress").Select(e => e.Kind));
        var upload = log.TakeWhile(e => e.Kind != "completed").Where(e => e.Kind == "progress").Select(e => e.Bytes).ToList();
        Assert.NotEmpty(upload);
        Assert.Equal(upload.Order(), upload);
        Assert.Equal(12 * MiB + 3, upload[^1]);
        TestFiles.AssertSame(source, local.Combine("back.bin"));
    }

    private sealed class EventLog : TransferObserver
    {
        private readonly List<(string Kind, long Bytes)> _entries = [];

        public IReadOnlyList<(string Kind, long Bytes)> Entries
        {
            get
            {
                lock (_entries)
                    return _entries.ToList();
            }
        }

        private void Add(string kind, long bytes)
        {
            lock (_entries)
                _entries.Add((kind, bytes));
        }

        public override void OnStarted(FileTransfer file, long size, long resumedFrom) => Add("started", resumedFrom);
        public override void OnProgress(FileTransfer file, long bytesDone) => Add("progress", bytesDone);
        public override void OnCompleted(FileTransfer file, TransferResult result) => Add("completed", result.Bytes);
        public override void OnFailed(FileTransfer file, Exception error) => Add("failed", 0);
    }

    [Fact]
    public async Task An_echo_the_server_drops_marks_the_connection_broken()
    {
        await using var fake = FakeServer.Start(async (header, reader, writer, ct) =>
        {
            if (header.Command == CommandNames.Hello)
                writer.WriteHeader(new HelloMessage { Version = ProtocolVersion.Current, Features = ["echo"] }, FerryJsonContext.Default.HelloMessage);
            else
                throw new IOException("The server goes away without answering.");
            await Task.CompletedTask;
        });
        await using var client = await FerryClient.ConnectAsync(fake.Address, new FerryClientOptions { UseTls = false }, TestTimeouts.Token());

        await Assert.ThrowsAnyAsync<Exception>(() => client.EchoAsync("hi"u8.ToArray(), TestTimeouts.Token()));

        Assert.True(client.IsBroken);
    }

    [Fact]
    public async Task A_non_fatal_error_leaves_the_connection_usable_and_a_fatal_one_breaks_it()
    {
        var fatal = false;
        await using var fake = FakeServer.Start(async (header, reader, writer, ct) =>
        {
            if (header.Command == CommandNames.Hello)
                writer.WriteHeader(new HelloMessage { Version = ProtocolVersion.Current, Features = ["echo"] }, FerryJsonContext.Default.HelloMessage);
            else
                writer.WriteHeader(new ErrorMessage { Code = "not_found", Message = "nothing here", Fatal = fatal }, FerryJsonContext.Default.ErrorMessage);
            await Task.CompletedTask;
        });
        await using var client = await FerryClient.ConnectAsync(fake.Address, new FerryClientOptions { UseTls = false }, TestTimeouts.Token());

        var first = await Assert.ThrowsAsync<FerryRemoteException>(() => client.StatAsync("x", TestTimeouts.Token()));
        Assert.Equal(FerryErrorCode.NotFound, first.Code);
        Assert.False(client.IsBroken);
        fatal = true;
        await Assert.ThrowsAsync<FerryRemoteException>(() => client.ByeAsync(TestTimeouts.Token()));
        Assert.True(client.IsBroken);
    }
}
