using Ferry.Client.Transfers;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// Someone who can write to the download directory plants a link at <c>.ferry-part.NAME</c>; a download must never
/// write (or a resume read) through it (docs/security.md, "Client part files and symlinks").
/// </summary>
public class ClientPartFileTests
{
    private const string Precious = "the victim's own data, which nobody may overwrite";

    private static async Task<TestServer> ServerWithFileAsync()
    {
        var server = await TestServer.StartAsync();
        File.WriteAllText(Path.Combine(server.Root, "f.txt"), "what the server sends");
        return server;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_symbolic_link_planted_at_the_part_file_is_not_followed(bool resume)
    {
        await using var server = await ServerWithFileAsync();
        using var local = new TempDirectory("ferry-part-link");
        var victim = TestFiles.CreateText(local.Combine("victim.txt"), Precious);
        var part = local.Combine(".ferry-part.f.txt");
        File.CreateSymbolicLink(part, victim);

        await using var client = await server.ConnectAsync();
        var ex = await Assert.ThrowsAsync<IOException>(() =>
            client.GetFileAsync("f.txt", local.Combine("f.txt"), new GetOptions { Resume = resume }, cancellationToken: TestTimeouts.Token()));

        Assert.Contains("symbolic link", ex.Message);
        Assert.Equal(Precious, File.ReadAllText(victim));
        Assert.Equal(victim, new FileInfo(part).LinkTarget); // left as it was found
        Assert.False(File.Exists(local.Combine("f.txt")));
        Assert.False(client.IsBroken); // the body was read and dropped: the connection is still usable
        Assert.Equal("what the server sends", await GetTextAsync(client, local.Combine("other.txt")));
    }

    [Fact]
    public async Task A_hard_link_planted_at_the_part_file_is_refused_and_its_target_untouched()
    {
        await using var server = await ServerWithFileAsync();
        using var local = new TempDirectory("ferry-part-hardlink");
        var victim = TestFiles.CreateText(local.Combine("victim.txt"), Precious);
        var linked = System.Diagnostics.Process.Start("ln", [victim, local.Combine(".ferry-part.f.txt")]);
        await linked.WaitForExitAsync(TestTimeouts.Token());
        Assert.Equal(0, linked.ExitCode);

        await using var client = await server.ConnectAsync();
        var ex = await Assert.ThrowsAsync<IOException>(() => client.GetFileAsync("f.txt", local.Combine("f.txt"), cancellationToken: TestTimeouts.Token()));

        Assert.Contains("hard links", ex.Message);
        Assert.Equal(Precious, File.ReadAllText(victim));
    }

    [Fact]
    public async Task Ferry_get_refuses_a_planted_link_with_a_clear_message_and_local_io_exit_code()
    {
        await using var server = await ServerWithFileAsync();
        using var local = new TempDirectory("ferry-part-link-cli");
        var victim = TestFiles.CreateText(local.Combine("victim.txt"), Precious);
        File.CreateSymbolicLink(local.Combine(".ferry-part.f.txt"), victim);

        var result = await Cli.RunAsync("get", "--plain", "--server", server.Address.ToString(), "f.txt", local.Combine("f.txt"));

        Assert.Equal(Ferry.Cli.ExitCodes.LocalIo, result.ExitCode);
        Assert.Contains(".ferry-part.f.txt' is a symbolic link", result.Stderr);
        Assert.Equal(Precious, File.ReadAllText(victim));
    }

    [Fact]
    public async Task A_stale_part_file_of_ours_is_still_reused()
    {
        await using var server = await ServerWithFileAsync();
        using var local = new TempDirectory("ferry-part-own");
        File.WriteAllText(local.Combine(".ferry-part.f.txt"), "stale bytes from an earlier try, longer than the file");

        await using var client = await server.ConnectAsync();
        Assert.Equal("what the server sends", await GetTextAsync(client, local.Combine("f.txt")));
        Assert.Empty(Directory.GetFiles(local.Path, ".ferry-part.*"));
    }

    private static async Task<string> GetTextAsync(Ferry.Client.FerryClient client, string target)
    {
        await client.GetFileAsync("f.txt", target, cancellationToken: TestTimeouts.Token());
        return File.ReadAllText(target);
    }

    [Fact]
    public async Task Put_r_skips_a_symbolic_link_to_a_file_outside_the_tree_and_says_so()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-put-links");
        var credentials = TestFiles.CreateText(local.Combine("credentials"), "aws_secret_access_key = hunter2");
        Directory.CreateDirectory(local.Combine("tree", "sub"));
        TestFiles.CreateText(local.Combine("tree", "readme.txt"), "public");
        File.CreateSymbolicLink(local.Combine("tree", "sub", "creds.txt"), credentials);
        Directory.CreateSymbolicLink(local.Combine("tree", "outside"), local.Path);

        var result = await Cli.RunAsync("put", "-r", "--plain", "--server", server.Address.ToString(), local.Combine("tree"), "up");

        result.AssertSuccess();
        Assert.Equal("public", File.ReadAllText(Path.Combine(server.Root, "up", "readme.txt")));
        Assert.False(File.Exists(Path.Combine(server.Root, "up", "sub", "creds.txt")));
        Assert.False(Directory.Exists(Path.Combine(server.Root, "up", "outside")));
        Assert.DoesNotContain(Directory.EnumerateFiles(server.Root, "*", SearchOption.AllDirectories), f => File.ReadAllText(f).Contains("hunter2"));
        Assert.Contains("skipping symbolic link", result.Stderr);
        Assert.Contains("creds.txt", result.Stderr);
        Assert.Contains("outside", result.Stderr);
    }
}
