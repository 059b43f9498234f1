using Ferry.Server.Storage.Nats;
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

    [Fact]
    public async Task A_user_added_anywhere_logs_in_within_2_s_and_an_upload_cut_off_by_kill_9_of_its_server_resumes_through_the_other()
    {
        const int MiB = 1024 * 1024;
        using var work = new TempDirectory("ferry-nats-kill");
        var url = nats.Cluster.Url;
        // Failed logins are answered at once and not counted against the probe below, which polls until the user arrives.
        string[] quickRefusals = ["--auth-failure-delay", "0", "--max-auth-failures", "10000", "--max-auth-failures-total", "10000"];
        await using var a = FerryProcess.Start(["serve", "--store", url, "--plain", "--listen", "127.0.0.1:0", "--root", work.Combine("root-a"), "--state-dir", work.Combine("state-a"), .. quickRefusals]);
        await using var b = FerryProcess.Start(["serve", "--store", url, "--plain", "--listen", "127.0.0.1:0", "--root", work.Combine("root-b"), "--state-dir", work.Combine("state-b"), .. quickRefusals]);
        var addressA = Address(await a.WaitForListeningAsync());
        var addressB = Address(await b.WaitForListeningAsync());

        // Added while both servers run, from outside either: logs in through both within 2 s.
        var user = "u" + Guid.NewGuid().ToString("N")[..8];
        var keyFile = work.Combine(user + ".key");
        var added = await FerryProcess.RunAsync("user", "add", user, "--allow", "read,write", "--key-file", keyFile, "--store", url);
        Assert.True(added.ExitCode == 0, added.Stderr);
        var addedAt = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(Ferry.Client.Security.ClientCredentials.TryParseKey(File.ReadAllText(keyFile).Trim(), out var key));
        var credentials = new Ferry.Client.Security.ClientCredentials(user, key);
        var options = new Ferry.Client.FerryClientOptions { UseTls = false, Credentials = credentials };
        foreach (var address in new[] { addressB, addressA })
        {
            while (true)
            {
                try
                {
                    await using var probe = await Ferry.Client.FerryClient.ConnectAsync(address, options, TestTimeouts.Token());
                    break;
                }
                catch (Ferry.Protocol.Errors.FerryRemoteException e) when (e.Code == Ferry.Protocol.Errors.FerryErrorCode.AuthenticationFailed && addedAt.Elapsed < TimeSpan.FromSeconds(2))
                {
                    await Task.Delay(20);
                }
            }
        }
        Assert.InRange(addedAt.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(2));

        // kill -9 of the server in the middle of an upload: the client resumes through the other from the stored parts.
        var source = TestFiles.Create(work.Combine("big.bin"), 64 * MiB + 7, seed: 4);
        await using (var first = await Ferry.Client.FerryClient.ConnectAsync(addressA, options, TestTimeouts.Token()))
        {
            var killed = 0;
            var progress = new Progress<long>(done =>
            {
                if (done >= 40 * MiB && Interlocked.Exchange(ref killed, 1) == 0)
                    a.Signal("KILL");
            });
            await Assert.ThrowsAnyAsync<Exception>(() => first.PutFileAsync(source, "big.bin", progress: progress, cancellationToken: TestTimeouts.Token()));
        }
        await a.WaitForExitAsync();
        await using var second = await Ferry.Client.FerryClient.ConnectAsync(addressB, options, TestTimeouts.Token());
        Assert.DoesNotContain(await second.ListAsync("", cancellationToken: TestTimeouts.Token()), e => e.Name == "big.bin");
        var resumed = await second.PutFileAsync(source, "big.bin", new Ferry.Client.Transfers.PutOptions { Resume = true }, cancellationToken: TestTimeouts.Token());
        Assert.True(resumed.ResumedFrom >= 4 * MiB, $"resumed from {resumed.ResumedFrom}");
        Assert.Equal(64 * MiB + 7 - resumed.ResumedFrom, resumed.BytesTransferred);
        await second.GetFileAsync("big.bin", work.Combine("back.bin"), cancellationToken: TestTimeouts.Token());
        TestFiles.AssertSame(source, work.Combine("back.bin"));
    }

    [Fact]
    public async Task User_records_written_into_the_bucket_by_hand_that_cannot_be_read_are_nobody_and_the_servers_keep_serving()
    {
        using var work = new TempDirectory("ferry-nats-records");
        var url = nats.Cluster.Url;
        var suffix = Guid.NewGuid().ToString("N")[..8];
        string mal = "mal" + suffix, vic = "vic" + suffix, bad = "bad" + suffix, odd = "odd" + suffix, late = "late" + suffix;
        var malKeyFile = work.Combine("mal.key");
        Assert.Equal(0, (await FerryProcess.RunAsync("user", "add", mal, "--allow", "read", "--key-file", malKeyFile, "--store", url)).ExitCode);
        string[] quickRefusals = ["--auth-failure-delay", "0", "--max-auth-failures", "10000", "--max-auth-failures-total", "10000"];
        await using var server = FerryProcess.Start(["serve", "--store", url, "--plain", "--listen", "127.0.0.1:0", "--root", work.Combine("root"),
            "--state-dir", work.Combine("state"), .. quickRefusals]);
        var address = Address(await server.WaitForListeningAsync());

        var raw = NATS.Client.Core.NatsRawSerializer<byte[]>.Default;
        await using (var connection = new NATS.Client.Core.NatsConnection(new NATS.Client.Core.NatsOpts { Url = url, RequestTimeout = TimeSpan.FromSeconds(15) }))
        {
            var users = await new NATS.Client.KeyValueStore.NatsKVContext(new NATS.Client.JetStream.NatsJSContext(connection))
                .GetStoreAsync("ferry-users", TestTimeouts.Token());
            var malRecord = (await users.GetEntryAsync(NatsUserRecords.KeyOf(mal), serializer: raw, cancellationToken: TestTimeouts.Token())).Value!;
            // mal's own record, copied under vic's key: it would let mal's key log in as vic.
            await users.PutAsync(NatsUserRecords.KeyOf(vic), malRecord, raw, TestTimeouts.Token());
            await users.PutAsync(NatsUserRecords.KeyOf(bad), "{ not json"u8.ToArray(), raw, TestTimeouts.Token());
            await users.PutAsync(NatsUserRecords.KeyOf(odd), System.Text.Encoding.UTF8.GetBytes($$"""{"name":"{{odd}}","key":"c2hvcnQ=","allow":["everything"]}"""), raw, TestTimeouts.Token());
        }
        foreach (var name in new[] { vic, bad, odd })
            await server.WaitForOutputAsync($"The user record {NatsUserRecords.KeyOf(name)} in the NATS store is skipped");

        Assert.True(Ferry.Client.Security.ClientCredentials.TryParseKey(File.ReadAllText(malKeyFile).Trim(), out var malKey));
        var asVictim = new Ferry.Client.FerryClientOptions { UseTls = false, Credentials = new Ferry.Client.Security.ClientCredentials(vic, malKey) };
        var refused = await Assert.ThrowsAsync<Ferry.Protocol.Errors.FerryRemoteException>(() => Ferry.Client.FerryClient.ConnectAsync(address, asVictim, TestTimeouts.Token()));
        Assert.Equal(Ferry.Protocol.Errors.FerryErrorCode.AuthenticationFailed, refused.Code);
        var asMal = new Ferry.Client.FerryClientOptions { UseTls = false, Credentials = new Ferry.Client.Security.ClientCredentials(mal, malKey) };
        await using (var client = await Ferry.Client.FerryClient.ConnectAsync(address, asMal, TestTimeouts.Token()))
            await client.ListAsync("", cancellationToken: TestTimeouts.Token());

        // The watch goes on past them: a user added afterwards logs in.
        var lateKeyFile = work.Combine("late.key");
        Assert.Equal(0, (await FerryProcess.RunAsync("user", "add", late, "--key-file", lateKeyFile, "--store", url)).ExitCode);
        Assert.True(Ferry.Client.Security.ClientCredentials.TryParseKey(File.ReadAllText(lateKeyFile).Trim(), out var lateKey));
        var asLate = new Ferry.Client.FerryClientOptions { UseTls = false, Credentials = new Ferry.Client.Security.ClientCredentials(late, lateKey) };
        await Eventually.UntilAsync(async () =>
        {
            try
            {
                await using var client = await Ferry.Client.FerryClient.ConnectAsync(address, asLate, TestTimeouts.Token());
                return true;
            }
            catch (Ferry.Protocol.Errors.FerryRemoteException e) when (e.Code == Ferry.Protocol.Errors.FerryErrorCode.AuthenticationFailed)
            {
                return false;
            }
        }, "the user added after the bad records to log in");

        // An administrator sees the good users, each bad record with its reason, and can remove the bad ones by name.
        var list = await FerryProcess.RunAsync("user", "list", "--store", url);
        Assert.True(list.ExitCode == 0, list.Stderr);
        Assert.Contains(mal, list.Stdout, StringComparison.Ordinal);
        Assert.Contains(late, list.Stdout, StringComparison.Ordinal);
        foreach (var name in new[] { vic, bad, odd })
        {
            Assert.DoesNotContain(name, list.Stdout, StringComparison.Ordinal);
            Assert.Contains($"ferry user remove {name}", list.Stderr, StringComparison.Ordinal);
        }
        Assert.Contains("names another user", list.Stderr, StringComparison.Ordinal);
        var json = await FerryProcess.RunAsync("user", "list", "--json", "--store", url);
        Assert.Equal(3, json.Stdout.Split('\n').Count(l => l.Contains("\"user_unreadable\"", StringComparison.Ordinal) && l.Contains(suffix, StringComparison.Ordinal)));
        foreach (var name in new[] { vic, bad, odd })
        {
            var removed = await FerryProcess.RunAsync("user", "remove", name, "--store", url);
            Assert.True(removed.ExitCode == 0, removed.Stderr);
        }
        var after = await FerryProcess.RunAsync("user", "list", "--store", url);
        Assert.DoesNotContain(suffix, after.Stderr, StringComparison.Ordinal);
        foreach (var name in new[] { mal, late })
            Assert.Equal(0, (await FerryProcess.RunAsync("user", "remove", name, "--store", url)).ExitCode);
    }

    private static Ferry.Client.ServerAddress Address(string text) =>
        Ferry.Client.ServerAddress.TryParse(text, out var address, out var error) ? address.Value : throw new FormatException(error);

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(Dictionary<string, string> environment, params string[] args)
    {
        await using var p = FerryProcess.Start(args, environment: environment);
        await p.WaitForExitAsync();
        return (p.ExitCode, p.Stdout, p.Stderr);
    }
}
