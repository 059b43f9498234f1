using Ferry.Client.Transfers;
using Ferry.Server.Hosting;
using Ferry.Server.Storage;
using Ferry.Testing;
using Microsoft.Extensions.Hosting;

namespace Ferry.IntegrationTests;

/// <summary>The partial-upload sweeper never deletes the part file of an upload in progress, in any user's home.</summary>
public class PartialUploadSweepTests
{
    [Fact]
    public async Task A_live_upload_older_than_the_ttl_keeps_its_part_file_while_abandoned_ones_go()
    {
        await using var login = await LoginServer.StartAsync([("alice", null)], o => o with { PartialUploadTtl = TimeSpan.FromHours(1) });
        using var local = new TempDirectory("ferry-sweep-local");
        // Larger than what goes in one put_file frame, so the upload holds a part file while it waits.
        var source = TestFiles.Create(local.Combine("live.bin"), 300_000, seed: 5);
        var home = login.Home("alice");

        await using var alice = await login.LoginAsync("alice");
        using var hold = new HoldingObserver();
        var upload = Task.Run(() => alice.PutFilesAsync([new FileTransfer(source, "live.bin")], observer: hold, cancellationToken: TestTimeouts.Token()));
        await hold.Started.WaitAsync(TestTimeouts.Token());
        var live = Assert.Single(Directory.GetFiles(home, ".ferry-part.*"));
        // The live upload looks older than the TTL (a slow client, or one that resumed an old part), and beside it lies
        // an abandoned part just as old.
        var abandoned = Path.Combine(home, ".ferry-part.00000000000000000000000000000000");
        await File.WriteAllBytesAsync(abandoned, new byte[10]);
        var old = DateTime.UtcNow - TimeSpan.FromHours(2);
        File.SetLastWriteTimeUtc(live, old);
        File.SetLastWriteTimeUtc(abandoned, old);

        // What the server sweeps: the store provider's sweep (the whole root, homes included), then a pass of the sweeper.
        var stores = (IFileStoreProvider)login.Server.Services.GetService(typeof(IFileStoreProvider))!;
        await stores.SweepPartialUploadsAsync(DateTimeOffset.UtcNow - TimeSpan.FromHours(1), TestTimeouts.Token());
        Assert.False(File.Exists(abandoned));
        Assert.True(File.Exists(live));
        await File.WriteAllBytesAsync(abandoned, new byte[10]);
        File.SetLastWriteTimeUtc(abandoned, old);
        var sweeper = ((IEnumerable<IHostedService>)login.Server.Services.GetService(typeof(IEnumerable<IHostedService>))!).OfType<PartialUploadSweeper>().Single();
        await sweeper.SweepOnceAsync(TestTimeouts.Token());
        Assert.False(File.Exists(abandoned));
        Assert.True(File.Exists(live));

        hold.Release();
        var result = await upload.WaitAsync(TestTimeouts.Token());
        Assert.Empty(result.Failed);
        TestFiles.AssertSame(source, Path.Combine(home, "live.bin"));
        Assert.Empty(Directory.GetFiles(home, ".ferry-part.*"));
    }

    [Fact]
    public async Task The_sweeper_also_sweeps_homes_outside_the_root()
    {
        using var outside = new TempDirectory("ferry-home-outside");
        await using var login = await LoginServer.StartAsync([("alice", null)], o => o with { PartialUploadTtl = TimeSpan.FromHours(1) });
        // Homes are set in the users file; give alice one outside the root by rewriting it.
        var users = Ferry.Server.Auth.UsersFile.Load(login.Server.Options.EffectiveUsersFile).Select(u => u with { Home = outside.Path }).ToList();
        Ferry.Server.Auth.UsersFile.Save(login.Server.Options.EffectiveUsersFile, users);
        ((Ferry.Server.Auth.UserDirectory)login.Server.Services.GetService(typeof(Ferry.Server.Auth.UserDirectory))!).Reload();

        var abandoned = Path.Combine(outside.Path, ".ferry-part.00000000000000000000000000000000");
        await File.WriteAllBytesAsync(abandoned, new byte[10]);
        File.SetLastWriteTimeUtc(abandoned, DateTime.UtcNow - TimeSpan.FromHours(2));
        var sweeper = ((IEnumerable<IHostedService>)login.Server.Services.GetService(typeof(IEnumerable<IHostedService>))!).OfType<PartialUploadSweeper>().Single();
        await sweeper.SweepOnceAsync(TestTimeouts.Token());
        Assert.False(File.Exists(abandoned));
    }
}
