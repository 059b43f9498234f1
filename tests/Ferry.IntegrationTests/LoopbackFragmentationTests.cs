using System.Net.Sockets;
using System.Text;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// The sticky-packet proof over a real loopback socket: the same echo frames sent whole, coalesced into one write,
/// split at every byte boundary and in random chunks get the same replies.
/// </summary>
public class LoopbackFragmentationTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private static readonly byte[][] s_bodies = [[], "a"u8.ToArray(), "hello world"u8.ToArray(), RandomBytes(300_000, 7)];

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static byte[] RandomBytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static byte[] Upper(byte[] b) => b.Select(x => x is >= (byte)'a' and <= (byte)'z' ? (byte)(x - 32) : x).ToArray();

    private static byte[] Stream(byte[][] bodies) => FrameBytes.Concat(
        [FrameBytes.Frame("""{"cmd":"hello","version":1}"""), .. bodies.Select(b => FrameBytes.WithBody("echo", b))]);

    private async Task SendAndCheckAsync(byte[][] bodies, IEnumerable<ReadOnlyMemory<byte>> writes)
    {
        await using var raw = await _server.ConnectRawAsync();
        var sending = Task.Run(async () =>
        {
            foreach (var w in writes)
                await raw.SendAsync(w);
        });
        Assert.Equal("hello", (await raw.ReadAsync())!.Command);
        foreach (var body in bodies)
        {
            var reply = await raw.ReadAsync();
            Assert.Equal("echo", reply!.Command);
            Assert.Equal(Upper(body), reply.Body);
        }
        await sending;
    }

    [Fact]
    public Task Frames_one_write_each() =>
        SendAndCheckAsync(s_bodies, s_bodies.Select(b => (ReadOnlyMemory<byte>)FrameBytes.WithBody("echo", b))
            .Prepend(FrameBytes.Frame("""{"cmd":"hello","version":1}""")));

    [Fact]
    public Task All_frames_coalesced_in_one_write() => SendAndCheckAsync(s_bodies, [Stream(s_bodies)]);

    [Fact]
    public async Task Split_at_every_byte_boundary()
    {
        // Every boundary of a stream of small frames, each split as its own connection's two writes.
        var small = s_bodies.Take(3).ToArray();
        var bytes = Stream(small);
        for (var split = 1; split < bytes.Length; split++)
            await SendAndCheckAsync(small, [bytes.AsMemory(0, split), bytes.AsMemory(split)]);
    }

    [Fact]
    public async Task One_byte_per_write_with_no_delay()
    {
        var small = s_bodies.Take(3).ToArray();
        var bytes = Stream(small);
        await SendAndCheckAsync(small, Enumerable.Range(0, bytes.Length).Select(i => (ReadOnlyMemory<byte>)bytes.AsMemory(i, 1)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task Random_chunk_sizes(int seed)
    {
        var bytes = Stream(s_bodies);
        var random = new Random(seed);
        var chunks = new List<ReadOnlyMemory<byte>>();
        for (var offset = 0; offset < bytes.Length;)
        {
            var size = Math.Min(random.Next(1, 70_000), bytes.Length - offset);
            chunks.Add(bytes.AsMemory(offset, size));
            offset += size;
        }
        await SendAndCheckAsync(s_bodies, chunks);
    }
}
