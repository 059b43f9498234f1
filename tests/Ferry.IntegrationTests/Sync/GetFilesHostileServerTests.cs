using System.Buffers;
using System.Text;
using System.Text.Json;
using Ferry.Client;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Sync.Batching;
using Ferry.Testing;

namespace Ferry.IntegrationTests.Sync;

/// <summary>
/// A server that lies in its get_files answer (docs/protocol.md §5.9.8): a record whose hash is wrong fails that file
/// alone; a record not asked for, a count that does not match, bytes after the last record or a done that miscounts
/// break the connection with a clear error. In every case no file is left half written or under a name not asked for.
/// </summary>
public class GetFilesHostileServerTests
{
    private static readonly (string Name, byte[] Data)[] Files =
    [
        ("a.txt", "alpha"u8.ToArray()),
        ("b.txt", "bravo"u8.ToArray()),
        ("c.txt", "charlie"u8.ToArray()),
    ];

    public enum Lie { WrongHash, NameNotAskedFor, NameThatClimbsOut, CountTooHigh, BytesAfterLastRecord, DoneMiscounts, ForceFlag }

    /// <summary>The records of <paramref name="files"/> as a server writes them, every field chosen by the test.</summary>
    private static byte[] Records(IEnumerable<(string Name, byte[] Data, byte[]? Hash)> files, bool force = false)
    {
        var body = new ArrayBufferWriter<byte>();
        var writer = new FileRecordWriter();
        foreach (var (name, data, hash) in files)
            writer.Write(body, name, 0x1A4, 1_700_000_000_000_000_000, force, hash ?? ChecksumAlgorithm.Xxh3.Hash(data), data);
        return body.WrittenSpan.ToArray();
    }

    private static FakeServer Serve(Lie lie) => FakeServer.Start((header, reader, writer, ct) =>
    {
        switch (header.Command)
        {
            case CommandNames.Hello:
                writer.WriteHeader(new HelloMessage { Version = ProtocolVersion.Current, Features = ["get", "ls", "get_files"] }, FerryJsonContext.Default.HelloMessage);
                break;
            case CommandNames.List:
                var listing = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(
                    Files.Select(f => new FileEntry { Name = f.Name, Type = "file", Size = f.Data.Length }).ToList(), FerryJsonContext.Default.ListFileEntry));
                writer.WriteHeader(new ListingMessage { Path = "d", Count = Files.Length, BodySize = listing.Length }, FerryJsonContext.Default.ListingMessage, listing.Length);
                writer.WriteBody(listing);
                break;
            case CommandNames.GetFiles:
                var id = header.Deserialize(FerryJsonContext.Default.GetFilesMessage).Id!.Value;
                var files = Files.Select(f => ("d/" + f.Name, f.Data, (byte[]?)null)).ToList();
                var count = files.Count;
                var sent = files.Count;
                switch (lie)
                {
                    case Lie.WrongHash:
                        files[1] = (files[1].Item1, files[1].Data, ChecksumAlgorithm.Xxh3.Hash(files[0].Data));
                        break;
                    case Lie.NameNotAskedFor:
                        files[2] = ("d/evil.txt", files[2].Data, null);
                        break;
                    case Lie.NameThatClimbsOut:
                        files[2] = ("d/../../escape.txt", files[2].Data, null);
                        break;
                    case Lie.CountTooHigh:
                        files.RemoveAt(2);
                        break;
                    case Lie.DoneMiscounts:
                        sent = 2;
                        break;
                }
                var body = Records(files, force: lie == Lie.ForceFlag);
                if (lie == Lie.BytesAfterLastRecord)
                    body = [.. body, 0, 0, 0];
                writer.WriteHeader(new FileRecordsMessage { Id = id, Count = count, BodySize = body.Length }, FerryJsonContext.Default.FileRecordsMessage, body.Length);
                writer.WriteBody(body);
                writer.WriteHeader(new GetFilesDoneMessage { Id = id, Count = count, Sent = sent, Failed = count - sent }, FerryJsonContext.Default.GetFilesDoneMessage);
                break;
            default:
                throw new InvalidOperationException($"unexpected {header.Command}");
        }
        return Task.CompletedTask;
    });

    private static Task<FerryClient> ConnectAsync(FakeServer server) =>
        FerryClient.ConnectAsync(server.Address, new FerryClientOptions { UseTls = false }, TestTimeouts.Token());

    [Fact]
    public async Task A_record_whose_hash_is_wrong_fails_that_file_alone_and_leaves_nothing_of_it()
    {
        await using var server = Serve(Lie.WrongHash);
        using var local = new TempDirectory("ferry-lying-getfiles");
        var target = local.Combine("copy");
        await using (var client = await ConnectAsync(server))
        {
            var result = await client.GetTreeAsync("d", target, cancellationToken: TestTimeouts.Token());

            Assert.Equal(["a.txt", "c.txt"], result.Completed.Select(r => Path.GetFileName(r.LocalPath)).Order(StringComparer.Ordinal));
            var failure = Assert.Single(result.Failed);
            Assert.Equal(("d/b.txt", FerryErrorCode.ChecksumMismatch), (failure.RemotePath, failure.Code));
            Assert.Contains("does not match the server's checksum", failure.Error.Message);
            Assert.False(client.IsBroken);
        }
        Assert.Equal(["a.txt", "c.txt"], Directory.GetFileSystemEntries(target).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal("alpha", await File.ReadAllTextAsync(Path.Combine(target, "a.txt")));
    }

    [Theory]
    [InlineData(Lie.NameNotAskedFor, "was not asked for")]
    [InlineData(Lie.NameThatClimbsOut, "was not asked for")]
    [InlineData(Lie.CountTooHigh, "does not hold the 3 records")]
    [InlineData(Lie.BytesAfterLastRecord, "does not hold the 3 records")]
    [InlineData(Lie.ForceFlag, "sets force")]
    public async Task A_frame_that_lies_breaks_the_connection_and_writes_none_of_its_files(Lie lie, string message)
    {
        await using var server = Serve(lie);
        using var local = new TempDirectory("ferry-lying-getfiles");
        var target = local.Combine("copy");
        await using (var client = await ConnectAsync(server))
        {
            var error = await Assert.ThrowsAsync<FerryProtocolException>(() => client.GetTreeAsync("d", target, cancellationToken: TestTimeouts.Token()));

            Assert.Contains(message, error.Message);
            Assert.True(error.IsFatal);
            Assert.True(client.IsBroken);
        }
        Assert.Empty(Directory.GetFileSystemEntries(target));
        Assert.False(File.Exists(local.Combine("escape.txt")));
        Assert.False(File.Exists(Path.Combine(Path.GetTempPath(), "escape.txt")));
    }

    [Fact]
    public async Task A_done_that_miscounts_breaks_the_connection_and_leaves_only_whole_checked_files()
    {
        await using var server = Serve(Lie.DoneMiscounts);
        using var local = new TempDirectory("ferry-lying-getfiles");
        var target = local.Combine("copy");
        await using (var client = await ConnectAsync(server))
        {
            var error = await Assert.ThrowsAsync<FerryProtocolException>(() => client.GetTreeAsync("d", target, cancellationToken: TestTimeouts.Token()));
            Assert.Contains("2 sent and 1 failed", error.Message);
            Assert.True(client.IsBroken);
        }
        // The records themselves were whole and matched their hashes: what was committed is each file's exact content.
        foreach (var entry in Directory.GetFileSystemEntries(target))
            Assert.Equal(Files.Single(f => f.Name == Path.GetFileName(entry)).Data, await File.ReadAllBytesAsync(entry));
        Assert.Empty(Directory.EnumerateFiles(target, ".ferry-part.*"));
    }
}
