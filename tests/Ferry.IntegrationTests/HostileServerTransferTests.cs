using System.IO.Hashing;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Ferry.Client;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>A lying server must not make the client write outside the directory it downloads into.</summary>
public class HostileServerTransferTests
{
    [Fact]
    public async Task A_listing_with_names_that_climb_out_is_refused_entry_by_entry()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var serve = ServeOneClientAsync(listener);
        using var local = new TempDirectory();
        var target = local.Combine("inbox");

        await using (var client = await FerryClient.ConnectAsync(new ServerAddress("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port),
            new FerryClientOptions { UseTls = false }, TestTimeouts.Token()))
        {
            var result = await client.GetTreeAsync("d", target, cancellationToken: TestTimeouts.Token());

            Assert.Equal(["ok.txt"], result.Completed.Select(r => Path.GetFileName(r.LocalPath)));
            Assert.Equal(["../escape.txt", "/etc/cron.d/x", "a/../../b.txt"], result.Failed.Select(f => f.RemotePath).Order(StringComparer.Ordinal));
            Assert.All(result.Failed, f => Assert.Equal(FerryErrorCode.PathInvalid, f.Code));
        }
        await serve;
        Assert.Equal("fine", File.ReadAllText(Path.Combine(target, "ok.txt")));
        Assert.Equal(["inbox"], Directory.GetFileSystemEntries(local.Path).Select(Path.GetFileName));
        Assert.False(File.Exists(Path.Combine(Path.GetTempPath(), "escape.txt")));
    }

    /// <summary>hello → hello; ls → a listing with hostile names; get ok.txt → its bytes and checksum; then the client leaves.</summary>
    private static async Task ServeOneClientAsync(TcpListener listener)
    {
        using var socket = await listener.AcceptSocketAsync(TestTimeouts.Token());
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var input = PipeReader.Create(stream);
        var output = PipeWriter.Create(stream);
        using var reader = new FrameReader(input);
        using var writer = new FrameWriter(output);
        var ct = TestTimeouts.Token();
        var body = "fine"u8.ToArray();
        while (await reader.ReadFrameAsync(ct) is { } header)
        {
            switch (header.Command)
            {
                case CommandNames.Hello:
                    writer.WriteHeader(new HelloMessage { Version = ProtocolVersion.Current, Features = ["get", "ls"] }, FerryJsonContext.Default.HelloMessage);
                    break;
                case CommandNames.List:
                    var listing = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new List<FileEntry>
                    {
                        new() { Name = "../escape.txt", Type = "file", Size = 4 },
                        new() { Name = "/etc/cron.d/x", Type = "file", Size = 4 },
                        new() { Name = "a/../../b.txt", Type = "file", Size = 4 },
                        new() { Name = "ok.txt", Type = "file", Size = 4 },
                    }, FerryJsonContext.Default.ListFileEntry));
                    writer.WriteHeader(new ListingMessage { Path = "d", Count = 4, BodySize = listing.Length }, FerryJsonContext.Default.ListingMessage, listing.Length);
                    writer.WriteBody(listing);
                    break;
                case CommandNames.Get:
                    var get = header.Deserialize(FerryJsonContext.Default.GetMessage);
                    Assert.Equal("d/ok.txt", get.Path);
                    writer.WriteHeader(new FileDataMessage { Id = get.Id, Path = get.Path, Size = 4, BodySize = 4 }, FerryJsonContext.Default.FileDataMessage, 4);
                    writer.WriteBody(body);
                    writer.WriteHeader(new TransferDoneMessage
                    {
                        Id = get.Id, Path = get.Path, Size = 4, Checksum = "xxh3-128", Hash = Convert.ToHexStringLower(XxHash128.Hash(body)),
                    }, FerryJsonContext.Default.TransferDoneMessage);
                    break;
                default:
                    throw new InvalidOperationException($"unexpected {header.Command}");
            }
            await writer.FlushAsync(ct);
        }
    }
}
