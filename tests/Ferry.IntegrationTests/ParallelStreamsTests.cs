using Ferry.Client.Transfers;
using Ferry.Testing;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary>One file over several connections (put/get --streams N): ranges in parallel, one checksum at the end.</summary>
public class ParallelStreamsTests
{
    [Theory]
    [InlineData(4, 40 * 1024 * 1024 + 123)]
    [InlineData(3, 100)]
    [InlineData(2, 0)]
    public async Task A_file_moved_over_several_connections_arrives_byte_identical(int streams, int size)
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-streams");
        var data = RandomBytes(size, size);
        await File.WriteAllBytesAsync(local.Combine("big.bin"), data);
        await using var client = await server.ConnectAsync();

        var put = await client.PutFileParallelAsync(local.Combine("big.bin"), "big.bin", streams, cancellationToken: TestTimeouts.Token());
        Assert.Equal(size, put.Bytes);
        Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(server.Root, "big.bin")));
        Assert.Empty(Directory.GetFiles(server.Root, ".ferry-part*"));

        var got = await client.GetFileParallelAsync("big.bin", local.Combine("back.bin"), streams, cancellationToken: TestTimeouts.Token());
        Assert.Equal(put.Hash, got.Hash);
        Assert.Equal(data, await File.ReadAllBytesAsync(local.Combine("back.bin")));
        Assert.Empty(Directory.GetFiles(local.Path, ".ferry-part*"));

        var expectedConnections = 1 + 2 * (FerryClientRanges(size, streams) - 1);
        Assert.Equal(expectedConnections, server.Logs.Lines.Count(l => l.EventId.Id == 2000));
    }

    private static int FerryClientRanges(long size, int streams) =>
        Math.Max(1, (int)Math.Ceiling(size / (double)Math.Max(1024 * 1024, (size / streams + 1024 * 1024 - 1) / (1024 * 1024) * (1024 * 1024))));

    [Fact]
    public async Task An_existing_local_file_is_not_replaced_without_force()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-streams");
        await File.WriteAllTextAsync(Path.Combine(server.Root, "r.txt"), "remote");
        await File.WriteAllTextAsync(local.Combine("r.txt"), "mine");
        await using var client = await server.ConnectAsync();
        var ex = await Assert.ThrowsAsync<Ferry.Protocol.Errors.FerryException>(() =>
            client.GetFileParallelAsync("r.txt", local.Combine("r.txt"), 2, cancellationToken: TestTimeouts.Token()));
        Assert.Equal(Ferry.Protocol.Errors.FerryErrorCode.AlreadyExists, ex.Code);
        Assert.Equal("mine", await File.ReadAllTextAsync(local.Combine("r.txt")));
    }

    [Fact]
    public async Task Only_the_opener_commits_and_a_wrong_token_joins_nothing()
    {
        await using var server = await TestServer.StartAsync();
        await using var owner = await HelloAsync(server);
        await owner.SendAsync(Json(new { cmd = "put", id = 1, path = "s.bin", size = 6, shared = true }));
        var ready = await owner.ReadAsync();
        var token = System.Text.Json.JsonDocument.Parse(ready!.Json).RootElement.GetProperty("token").GetString();
        Assert.False(string.IsNullOrEmpty(token));

        await using var other = await HelloAsync(server);
        await other.SendAsync(Json(new { cmd = "put_join", id = 5, token = "bm90IGEgdG9rZW4=" }));
        Assert.Equal(("unknown_transfer", false), await other.ReadErrorAsync());
        await other.SendAsync(Json(new { cmd = "put_join", id = 5, token }));
        Assert.Equal("put_ready", (await other.ReadAsync())!.Command);
        await other.SendAsync(Json(new { cmd = "put_data", id = 5, offset = 3, bodysize = 3 }, "def"u8));
        await other.SendAsync(Json(new { cmd = "put_end", id = 5, hash = Hex("abcdef"u8.ToArray()) }));
        Assert.Equal(("field_invalid", false), await other.ReadErrorAsync()); // a joiner cannot commit
        await other.SendAsync(Json(new { cmd = "put_join", id = 6, token }));
        Assert.Equal("put_ready", (await other.ReadAsync())!.Command);
        await other.SendAsync(Json(new { cmd = "put_end", id = 6, part = true }));
        Assert.Equal("done", (await other.ReadAsync())!.Command);

        await owner.SendAsync(Json(new { cmd = "put_data", id = 1, offset = 0, bodysize = 3 }, "abc"u8));
        await owner.SendAsync(Json(new { cmd = "put_end", id = 1, hash = Hex("abcdef"u8.ToArray()) }));
        Assert.Equal("done", (await owner.ReadAsync())!.Command);
        Assert.Equal("abcdef", await File.ReadAllTextAsync(Path.Combine(server.Root, "s.bin")));

        // After the commit the token is dead.
        await other.SendAsync(Json(new { cmd = "put_join", id = 7, token }));
        Assert.Equal(("unknown_transfer", false), await other.ReadErrorAsync());
    }

    [Fact]
    public async Task Ferry_put_and_get_streams_from_the_command_line()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-streams");
        var data = RandomBytes(9 * 1024 * 1024 + 7, 3);
        await File.WriteAllBytesAsync(local.Combine("f.bin"), data);
        var address = server.Address.ToString();
        var (code, _, err) = await FerryProcess.RunAsync("put", "--plain", "-q", "--streams", "3", "--server", address, local.Combine("f.bin"));
        Assert.True(code == 0, err);
        (code, _, err) = await FerryProcess.RunAsync("get", "--plain", "-q", "--streams", "3", "--server", address, "f.bin", local.Combine("g.bin"));
        Assert.True(code == 0, err);
        Assert.Equal(data, await File.ReadAllBytesAsync(local.Combine("g.bin")));
    }
}
