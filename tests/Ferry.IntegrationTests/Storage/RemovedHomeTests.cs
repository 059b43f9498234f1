using Ferry.Testing;

namespace Ferry.IntegrationTests.Storage;

/// <summary>A home removed from disk while the server runs is made again at the user's next login.</summary>
public sealed class RemovedHomeTests
{
    [Fact]
    public async Task A_home_removed_while_the_server_runs_is_made_again_at_the_next_login()
    {
        await using var server = await LoginServer.StartAsync([("bench", null)]);
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("a.bin"), 70_000, seed: 31);
        await using (var first = await server.LoginAsync("bench"))
            await first.PutFileAsync(source, "a.bin", cancellationToken: TestTimeouts.Token());
        Assert.True(File.Exists(Path.Combine(server.Home("bench"), "a.bin")));

        Directory.Delete(server.Home("bench"), recursive: true);

        await using var second = await server.LoginAsync("bench");
        await second.PutFileAsync(source, "a.bin", cancellationToken: TestTimeouts.Token());
        TestFiles.AssertSame(source, Path.Combine(server.Home("bench"), "a.bin"));
        Assert.Equal(["a.bin"], (await second.ListAsync("", cancellationToken: TestTimeouts.Token())).Select(e => e.Name));
    }
}
