using System.Text;
using Ferry.Protocol.Errors;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>A live server fed bad frames: each gets the right error, and the server keeps serving a fresh client.</summary>
[Collection(nameof(MemorySensitive))]
public class HostileInputTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();
    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData(0u, "header_length_invalid")]
    [InlineData(0xFFFFFFFFu, "header_too_large")]
    [InlineData(64u * 1024 * 1024, "header_too_large")]
    public async Task Bad_header_length_is_refused_without_allocating_it_and_the_server_keeps_serving(uint length, string code)
    {
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await using (var raw = await _server.ConnectRawAsync())
        {
            await raw.SendAsync(FrameBytes.Prefix(length));
            var error = await raw.ReadErrorAsync();
            Assert.Equal((code, true), error);
            Assert.True(await raw.IsClosedByPeerAsync());
        }
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        // The whole process (test and server) allocated far less than the claimed header.
        Assert.True(allocated < 8 * 1024 * 1024, $"allocated {allocated} bytes");

        await AssertServesFreshClientAsync();
    }

    public static TheoryData<string, byte[]> NonFatal => new()
    {
        { "header_not_utf8", FrameBytes.Concat(FrameBytes.Prefix(3), [0x7B, 0xC3, 0x28]) },
        { "header_not_json", FrameBytes.Frame("""{"cmd":"echo","bodysize":""") },
        { "header_not_object", FrameBytes.Frame("""["cmd","echo"]""") },
        { "header_not_object", FrameBytes.Frame(new string('[', 10_000) + new string(']', 10_000)) },
        { "header_not_json", FrameBytes.Frame("{\"cmd\":\"echo\",\"x\":" + new string('[', 10_000) + new string(']', 10_000) + "}") },
        { "command_missing", FrameBytes.Frame("""{"filename":"a"}""") },
        { "command_unknown", FrameBytes.WithBody("launch_missiles", new byte[70_000]) },
        { "field_invalid", FrameBytes.Frame("""{"cmd":"hello","version":"one"}""") },
        { "field_invalid", FrameBytes.Frame("""{"cmd":"hello"}""") },
        { "header_not_json", FrameBytes.Frame($$"""{"cmd":"echo","s":"{{new string('x', 60 * 1024)}}""") },
    };

    [Theory]
    [MemberData(nameof(NonFatal))]
    public async Task Bad_header_gets_an_error_frame_and_the_connection_stays_usable(string code, byte[] frame)
    {
        await using var raw = await _server.ConnectRawAsync();
        await raw.SendAsync(frame);
        Assert.Equal((code, false), await raw.ReadErrorAsync());

        // Same connection, framing intact: a hello and an echo still work.
        await raw.SendHelloAsync();
        Assert.Equal("hello", (await raw.ReadAsync())!.Command);
        await raw.SendAsync(FrameBytes.WithBody("echo", "still here"u8));
        var reply = await raw.ReadAsync();
        Assert.Equal("STILL HERE", Encoding.UTF8.GetString(reply!.Body));
    }

    [Theory]
    [InlineData("""{"cmd":"echo","bodysize":-1}""")]
    [InlineData("""{"cmd":"echo","bodysize":"12"}""")]
    [InlineData("""{"cmd":"echo","bodysize":1e400}""")]
    [InlineData("""{"cmd":"put","filename":"a","filesize":"x"}""")]
    public async Task Unusable_body_size_closes_the_connection_after_an_error_frame(string header)
    {
        await using (var raw = await _server.ConnectRawAsync())
        {
            await raw.SendAsync(FrameBytes.Frame(header));
            Assert.Equal(("body_size_invalid", true), await raw.ReadErrorAsync());
            Assert.True(await raw.IsClosedByPeerAsync());
        }
        await AssertServesFreshClientAsync();
    }

    [Fact]
    public async Task Commands_before_hello_are_refused_but_the_connection_stays()
    {
        await using var raw = await _server.ConnectRawAsync();
        await raw.SendAsync(FrameBytes.WithBody("echo", "x"u8));
        Assert.Equal(("hello_required", false), await raw.ReadErrorAsync());
        await raw.SendHelloAsync();
        Assert.Equal("hello", (await raw.ReadAsync())!.Command);
    }

    [Fact]
    public async Task Wrong_protocol_version_is_refused()
    {
        await using var raw = await _server.ConnectRawAsync();
        await raw.SendAsync(FrameBytes.Frame("""{"cmd":"hello","version":99}"""));
        Assert.Equal(("version_unsupported", false), await raw.ReadErrorAsync());
    }

    [Fact]
    public async Task Body_shorter_than_declared_then_close_leaves_the_server_serving()
    {
        await using (var raw = await _server.ConnectRawAsync())
        {
            await raw.SendHelloAsync();
            await raw.ReadAsync();
            await raw.SendAsync(FrameBytes.Concat(FrameBytes.Frame("""{"cmd":"echo","bodysize":1000}"""), new byte[10]));
            raw.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            // The reply header was already streaming; the connection then ends without a complete body.
            Assert.True(await raw.IsClosedByPeerAsync());
        }
        await AssertServesFreshClientAsync();
        Assert.Contains(_server.Logs.Lines, l => l.Message.Contains("transport", StringComparison.OrdinalIgnoreCase) || l.Message.Contains("truncated", StringComparison.OrdinalIgnoreCase)
            || l.Message.Contains("closed", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Random_garbage_is_survived()
    {
        var garbage = new byte[1024 * 1024];
        new Random(42).NextBytes(garbage);
        await using (var raw = await _server.ConnectRawAsync())
        {
            try { await raw.SendAsync(garbage); } catch (System.Net.Sockets.SocketException) { }
            Assert.True(await raw.IsClosedByPeerAsync());
        }
        await AssertServesFreshClientAsync();
    }

    [Fact]
    public async Task Every_log_line_of_a_connection_carries_its_id()
    {
        await AssertServesFreshClientAsync();
        var serverLines = _server.Logs.Lines.Where(l => l.Category.StartsWith("Ferry.Server", StringComparison.Ordinal) && l.EventId.Id >= 2000).ToList();
        Assert.NotEmpty(serverLines);
        Assert.All(serverLines, l => Assert.Matches("^c[0-9a-f]+$", Assert.Single(l.Scopes)));
    }

    private async Task AssertServesFreshClientAsync()
    {
        await using var client = await _server.ConnectAsync();
        Assert.Equal("FRESH", Encoding.UTF8.GetString(await client.EchoAsync("fresh"u8.ToArray(), TestTimeouts.Token())));
    }
}

/// <summary>Tests that measure process-wide allocation run alone.</summary>
[CollectionDefinition(nameof(MemorySensitive), DisableParallelization = true)]
public sealed class MemorySensitive;
