using Ferry.Testing;

namespace Ferry.IntegrationTests.Sync;

/// <summary>
/// What the wire-level sync tests share: a test server, one logged-in <see cref="SyncPeer"/> speaking raw frames to it,
/// and a folder outside the server's root for links and bases that try to escape.
/// </summary>
public abstract class SyncWireTest : IAsyncLifetime
{
    protected TestServer Server { get; private set; } = null!;
    // A test that drops its connection on purpose connects a new peer in its place (disposed like the first).
    private protected SyncPeer Peer { get; set; } = null!;
    protected TempDirectory Outside { get; } = new("ferry-outside");

    public async Task InitializeAsync()
    {
        Server = await TestServer.StartAsync();
        Peer = await SyncPeer.ConnectAsync(Server);
        // A connection that has completed no command is closed after the login grace time (20 s). Many tests here begin
        // with a refused command and a large body; one completed command first keeps a slow machine from closing the
        // connection under them.
        Assert.Equal("echo", await Peer.AskAsync(new { cmd = "echo" }));
    }

    public async Task DisposeAsync()
    {
        await Peer.DisposeAsync();
        await Server.DisposeAsync();
        Outside.Dispose();
    }

    /// <summary>A path under the server's root.</summary>
    protected string Root(string relative) => Path.Combine(Server.Root, relative);
}
