using System.Text.Json;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Testing;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary>The byte quota cannot be walked around (docs/security.md "Quotas").</summary>
public class QuotaTests
{
    private static string Code(ReceivedFrame frame) =>
        frame.Command == "error" ? JsonDocument.Parse(frame.Json).RootElement.GetProperty("code").GetString()! : frame.Command;

    /// <summary>Everything under the root, the server's own partial uploads included: what the disk really holds.</summary>
    private static long BytesOnDisk(string root) =>
        new DirectoryInfo(root).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

    [Fact]
    public async Task A_forced_put_whose_old_file_is_moved_away_before_put_end_is_checked_again_at_commit()
    {
        await using var server = await TestServer.StartAsync(o => o with { QuotaBytes = 10_000 });
        await using var raw = await HelloAsync(server);
        var old = RandomBytes(6_000, 1);
        Assert.Equal("done", Code(await UploadAsync(raw, "a.bin", old)));

        // Replacing a.bin needs no room at put time: the new file takes the old one's place...
        var replacement = RandomBytes(6_000, 2);
        await raw.SendAsync(Json(new { cmd = "put", id = 2, path = "a.bin", size = replacement.Length, checksum = "xxh3-128", force = true }));
        Assert.Equal("put_ready", (await raw.ReadAsync())!.Command);
        await raw.SendAsync(Json(new { cmd = "put_data", id = 2, offset = 0, bodysize = replacement.Length }, replacement));
        // ...but the old file is moved away before the commit, so the new one would be 6000 more bytes.
        await raw.SendAsync(Json(new { cmd = "mv", from = "a.bin", to = "kept.bin" }));
        Assert.Equal("ok", (await raw.ReadAsync())!.Command);
        await raw.SendAsync(Json(new { cmd = "put_end", id = 2, hash = Hex(replacement) }));
        Assert.Equal("quota_exceeded", Code((await raw.ReadAsync())!));

        // Nothing lost, nothing under the final name, no part left behind.
        Assert.Equal(old, await File.ReadAllBytesAsync(Path.Combine(server.Root, "kept.bin")));
        Assert.False(File.Exists(Path.Combine(server.Root, "a.bin")));
        Assert.Empty(Directory.GetFiles(server.Root, ".ferry-*"));

        // The quota still counts exactly what is stored: 4000 more bytes fit, then not one.
        Assert.Equal("done", Code(await UploadAsync(raw, "b.bin", RandomBytes(4_000, 3))));
        Assert.Equal("quota_exceeded", Code(await UploadAsync(raw, "c.bin", RandomBytes(1, 4))));
        Assert.True(BytesOnDisk(server.Root) <= 10_000);
    }

    [Fact]
    public async Task Partial_uploads_abandoned_by_a_disconnect_count_against_the_quota_and_go_first_when_it_is_full()
    {
        await using var server = await TestServer.StartAsync(o => o with { QuotaBytes = 10_000 });
        for (var round = 0; round < 4; round++)
        {
            // Send all the data, then drop the connection before put_end: the part is kept for a resume.
            await using (var raw = await HelloAsync(server))
            {
                await raw.SendAsync(Json(new { cmd = "put", id = 1, path = $"p{round}.bin", size = 6_000, checksum = "xxh3-128" }));
                Assert.Equal("put_ready", (await raw.ReadAsync())!.Command);
                await raw.SendAsync(Json(new { cmd = "put_data", id = 1, offset = 0, bodysize = 6_000 }, RandomBytes(6_000, round)));
                await raw.SendAsync(Json(new { cmd = "stat", path = "" }));
                Assert.Equal("stat_result", (await raw.ReadAsync())!.Command); // the data is on disk
            }
            await HostTests.WaitUntilAsync(() => server.Server.ConnectionCount == 0);
            // Each new upload made room by deleting the older abandoned part instead of adding to it.
            Assert.True(BytesOnDisk(server.Root) <= 10_000, $"round {round}: {BytesOnDisk(server.Root)} bytes on disk for a quota of 10000");
        }
        Assert.Single(Directory.GetFiles(server.Root, ".ferry-part.*"));

        // A whole file that fits once the abandoned part is gone is stored.
        await using var last = await HelloAsync(server);
        var data = RandomBytes(9_000, 9);
        Assert.Equal("done", Code(await UploadAsync(last, "whole.bin", data)));
        Assert.Empty(Directory.GetFiles(server.Root, ".ferry-part.*"));
        Assert.Equal(9_000, BytesOnDisk(server.Root));
    }

    [Fact]
    public async Task Partial_uploads_left_from_before_a_start_count_against_their_users_quota()
    {
        // A part of 6000 bytes in alice's home from an earlier run, and a server-wide quota, so that the root store
        // (which spans every home) measures the disk before alice's own store does.
        string? part = null;
        await using var login = await LoginServer.StartAsync([("alice", 10_000)], o =>
        {
            part = Path.Combine(o.Root, "alice", ".ferry-part.00000000000000000000000000000000");
            Directory.CreateDirectory(Path.GetDirectoryName(part)!);
            File.WriteAllBytes(part, new byte[6_000]);
            return o with { QuotaBytes = 1_000_000 };
        });
        using var local = new TempDirectory("ferry-quota-local");
        var file = TestFiles.Create(local.Combine("f.bin"), 6_000, seed: 1);

        await using var alice = await login.LoginAsync("alice");
        await alice.PutFileAsync(file, "f.bin", cancellationToken: TestTimeouts.Token());
        // 6000 kept + 6000 new exceed 10000: the old part made room.
        Assert.False(File.Exists(part));
        TestFiles.AssertSame(file, Path.Combine(login.Home("alice"), "f.bin"));
    }

    [Fact]
    public async Task A_changed_quota_is_set_on_the_same_tracker_so_uploads_in_progress_still_count()
    {
        // Files larger than one put_file frame carries, so the first upload stays open (reserved) while it is held.
        await using var login = await LoginServer.StartAsync([("alice", 1_000_000)]);
        using var local = new TempDirectory("ferry-quota-local");
        var first = TestFiles.Create(local.Combine("first.bin"), 600_000, seed: 1);
        var second = TestFiles.Create(local.Combine("second.bin"), 600_000, seed: 2);
        var third = TestFiles.Create(local.Combine("third.bin"), 500_000, seed: 3);

        // An upload of 600000 bytes is open (reserved) while the quota changes.
        await using var holder = await login.LoginAsync("alice");
        using var hold = new HoldingObserver();
        var held = Task.Run(() => holder.PutFilesAsync([new FileTransfer(first, "first.bin")], observer: hold, cancellationToken: TestTimeouts.Token()));
        await hold.Started.WaitAsync(TestTimeouts.Token());
        login.ChangeQuotas([("alice", 1_100_000)]);

        // A connection that logs in after the reload sees the same reservation, under the new limit.
        await using var other = await login.LoginAsync("alice");
        var refused = await Record.ExceptionAsync(() => other.PutFileAsync(second, "second.bin", cancellationToken: TestTimeouts.Token()));
        Assert.True(refused is FerryException { Code: FerryErrorCode.QuotaExceeded }, refused?.ToString());
        await other.PutFileAsync(third, "third.bin", cancellationToken: TestTimeouts.Token()); // 600000 + 500000 fits the new limit only

        hold.Release();
        var batch = await held.WaitAsync(TestTimeouts.Token());
        Assert.Empty(batch.Failed);
        TestFiles.AssertSame(first, Path.Combine(login.Home("alice"), "first.bin"));
        var full = await Record.ExceptionAsync(() => other.PutFileAsync(TestFiles.Create(local.Combine("one.bin"), 1, seed: 4), "one.bin", cancellationToken: TestTimeouts.Token()));
        Assert.True(full is FerryException { Code: FerryErrorCode.QuotaExceeded }, full?.ToString());
    }
}
