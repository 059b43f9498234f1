using Ferry.Client.Sync;
using Ferry.Testing;

namespace Ferry.IntegrationTests.Sync;

/// <summary>New folders of a push made pipelined (mkdir -p each, docs/protocol.md §5.5), failures reported per folder.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class FolderBatchTests
{
    [Fact]
    public async Task Folders_are_made_pipelined_and_one_that_cannot_be_made_is_reported_alone()
    {
        await using var server = await TestServer.StartAsync();
        await File.WriteAllTextAsync(Path.Combine(server.Root, "file"), "x");
        await using var client = await server.ConnectAsync();

        var failed = await new RemoteTree(client).MakeDirectoriesAsync(["a/b", "file/sub", "./c"], TestTimeouts.Token());

        Assert.Equal("file/sub", Assert.Single(failed).Path);
        Assert.True(Directory.Exists(Path.Combine(server.Root, "a", "b")));
        Assert.True(Directory.Exists(Path.Combine(server.Root, "c")));
        Assert.Equal("x", await File.ReadAllTextAsync(Path.Combine(server.Root, "file")));
    }
}
