using System.Diagnostics;
using System.Net;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>A <c>ferry serve --insecure-no-auth</c> process on a free loopback port, with its open sockets counted from /proc.</summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private int _baselineSockets;

    private ServerProcess(FerryProcess process, string address)
    {
        Process = process;
        Address = address;
        EndPoint = IPEndPoint.Parse(address);
    }

    public FerryProcess Process { get; }
    public string Address { get; }
    public IPEndPoint EndPoint { get; }

    public static async Task<ServerProcess> StartAsync(string root, string state, params string[] more)
    {
        var process = FerryProcess.Start(["serve", "--listen", "127.0.0.1:0", "--root", root, "--state-dir", state, "--insecure-no-auth", .. more]);
        var server = new ServerProcess(process, await process.WaitForListeningAsync());
        server._baselineSockets = ProcessCensus.Sockets(process.Id);
        return server;
    }

    /// <summary>Waits until the server holds no more sockets than when it started listening: every connection has closed.</summary>
    public async Task WaitForConnectionsToCloseAsync()
    {
        var deadline = Stopwatch.StartNew();
        while (ProcessCensus.Sockets(Process.Id) > _baselineSockets)
        {
            Assert.True(deadline.Elapsed < TestTimeouts.Default, $"the server still holds {ProcessCensus.Sockets(Process.Id)} sockets, {_baselineSockets} at start");
            await Task.Delay(20);
        }
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
