using Ferry.Testing;

namespace Ferry.IntegrationTests.Nats;

/// <summary>
/// The real <c>ferry</c>: users added with <c>ferry user ... --store nats://</c> from outside any server, two
/// <c>ferry serve --store</c> processes on one three-node cluster, and clients moving files through either.
/// </summary>
public sealed class NatsCliTests(NatsClusterFixture nats) : IClassFixture<NatsClusterFixture>
{
    [Fact]
    public async Task Two_servers_on_one_cluster_share_users_and_files_and_see_user_changes_without_a_restart()
    {
        using var work = new TempDirectory("ferry-nats-cli");
        var url = nats.Cluster.Url;
        var keyFile = work.Combine("ana.key");
        var added = await FerryProcess.RunAsync("user", "add", "ana", "--allow", "read,write,exec", "--key-file", keyFile, "--store", url);
        Assert.True(added.ExitCode == 0, added.Stderr);
        var again = await FerryProcess.RunAsync("user", "add", "ana", "--store", url);
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("already exists", again.Stderr, StringComparison.Ordinal);

        await using var a = FerryProcess.Start(["serve", "--store", url, "--plain", "--listen", "127.0.0.1:0", "--root", work.Combine("root-a"), "--state-dir", work.Combine("state-a"), "--allow-exec"]);
        await using var b = FerryProcess.Start(["serve", "--store", url, "--plain", "--listen", "127.0.0.1:0", "--root", work.Combine("root-b"), "--state-dir", work.Combine("state-b"), "--allow-exec"]);
        var addressA = await a.WaitForListeningAsync();
        var addressB = await b.WaitForListeningAsync();
        var client = new Dictionary<string, string>
        {
            ["FERRY_CONFIG_DIR"] = work.Combine("client"),
            ["FERRY_USER"] = "ana",
            ["FERRY_KEY"] = File.ReadAllText(keyFile).Trim(),
        };
        var source = TestFiles.Create(work.Combine("data.bin"), 2 * 1024 * 1024 + 11, seed: 3);

        var put = await RunAsync(client, "put", "--plain", "--server", addressA, source, "data.bin");
        Assert.True(put.ExitCode == 0, put.Stderr);
        var get = await RunAsync(client, "get", "--plain", "--server", addressB, "data.bin", work.Combine("back.bin"));
        Assert.True(get.ExitCode == 0, get.Stderr);
        TestFiles.AssertSame(source, work.Combine("back.bin"));
        Assert.DoesNotContain(Directory.EnumerateFiles(work.Path, "data.bin", new EnumerationOptions { RecurseSubdirectories = true }),
            f => f.Contains("root-", StringComparison.Ordinal)); // the cluster holds it, not either server's disk

        // Remote commands need a local folder: refused with the reason, on a NATS home, whatever the permission says.
        var exec = await RunAsync(client, "exec", "--plain", "--server", addressB, "--", "true");
        Assert.NotEqual(0, exec.ExitCode);
        Assert.Contains("exec_failed", exec.Stderr, StringComparison.Ordinal);

        // A permission taken away on any machine reaches both running servers.
        var set = await FerryProcess.RunAsync("user", "set", "ana", "--allow", "read", "--store", url);
        Assert.True(set.ExitCode == 0, set.Stderr);
        foreach (var address in new[] { addressA, addressB })
        {
            await Eventually.UntilAsync(() =>
            {
                var refused = RunAsync(client, "mkdir", "--plain", "--server", address, "d-" + Guid.NewGuid().ToString("N")).GetAwaiter().GetResult();
                return refused.ExitCode != 0 && refused.Stderr.Contains("permission_denied", StringComparison.Ordinal);
            }, $"the server at {address} to take the write permission away");
        }
        var list = await FerryProcess.RunAsync("user", "list", "--json", "--store", url);
        Assert.Contains("\"allow\":\"read\"", list.Stdout.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);

        // A removed user can no longer log in through either.
        Assert.Equal(0, (await FerryProcess.RunAsync("user", "remove", "ana", "--store", url)).ExitCode);
        await Eventually.UntilAsync(() => RunAsync(client, "ls", "--plain", "--server", addressA).GetAwaiter().GetResult().ExitCode != 0,
            "the removed user to be refused");
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(Dictionary<string, string> environment, params string[] args)
    {
        await using var p = FerryProcess.Start(args, environment: environment);
        await p.WaitForExitAsync();
        return (p.ExitCode, p.Stdout, p.Stderr);
    }
}
