using System.CommandLine;
using Ferry.Cli;
using Ferry.Client.Sync;
using Ferry.Protocol.Messages;
using Ferry.Testing;

namespace Ferry.IntegrationTests.Sync;

/// <summary>ferry sync as a user runs it: usage checks, and push and pull against the real server over loopback.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SyncCliTests : IDisposable
{
    private readonly TempDirectory _cache = new("ferry-sync-cache");

    public void Dispose() => _cache.Dispose();

    private async Task<CliResult> SyncAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var environment = CliEnvironment.Plain with { CacheDirectory = _cache.Path };
        var code = await Program.RunAsync(["sync", "--plain", .. args], new InvocationConfiguration { Output = output, Error = error }, environment, TestTimeouts.Token());
        return new CliResult(code, output.ToString(), error.ToString());
    }

    /// <summary>The itemized lines of a run: stdout without the summary.</summary>
    private static List<string> Items(CliResult result) =>
        [.. result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("sync: ", StringComparison.Ordinal))];

    [Theory]
    [InlineData("./a", "./b", "both sides are local")]
    [InlineData(":a", ":b", "both sides are remote")]
    public async Task Exactly_one_side_must_be_remote(string source, string destination, string expected)
    {
        var result = await SyncAsync("--server", "127.0.0.1:1", "--json", source, destination);
        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
        Assert.Equal("usage", Assert.Single(result.JsonLines()).GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("--bwlimit", "fast")]
    [InlineData("--bwlimit", "10X")]
    [InlineData("--bwlimit", "-5")]
    [InlineData("--max-delete", "-1")]
    public async Task Bad_option_values_are_usage_errors_before_connecting(string option, string value)
    {
        using var local = new TempDirectory();
        var result = await SyncAsync("--server", "127.0.0.1:1", option, value, local.Path, ":x");
        Assert.Equal(ExitCodes.Usage, result.ExitCode); // port 1 is never reached: a connection attempt would give 3
    }

    [Fact]
    public async Task A_remote_path_above_the_root_is_refused_before_connecting()
    {
        using var local = new TempDirectory();
        var result = await SyncAsync("--server", "127.0.0.1:1", local.Path, ":../elsewhere");
        Assert.Equal(ExitCodes.PathRefused, result.ExitCode);
        Assert.Contains("path_escapes_root", result.Stderr);
    }

    [Fact]
    public async Task A_missing_exclude_from_file_is_a_local_error_before_connecting()
    {
        using var local = new TempDirectory();
        var result = await SyncAsync("--server", "127.0.0.1:1", "--exclude-from", local.Combine("no-such-file"), local.Path, ":x");
        Assert.Equal(ExitCodes.LocalIo, result.ExitCode);
    }

    [Fact]
    public async Task A_push_dry_run_prints_exactly_the_lines_of_the_real_run_and_the_result_is_a_mirror()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var site = local.Combine("site");
        BuildTree(site);
        // The destination already holds an unchanged file, a changed one, a renamed one and extras for --delete.
        var remote = Path.Combine(server.Root, "backups", "site");
        Directory.CreateDirectory(Path.Combine(remote, "old", "deep"));
        File.Copy(Path.Combine(site, "same.txt"), Path.Combine(remote, "same.txt"));
        File.SetLastWriteTimeUtc(Path.Combine(remote, "same.txt"), File.GetLastWriteTimeUtc(Path.Combine(site, "same.txt")));
        LocalEntryStat.SetModifiedTime(Path.Combine(remote, "same.txt"), LocalEntryStat.Read(Path.Combine(site, "same.txt"), "")!.ModifiedNs);
        File.WriteAllText(Path.Combine(remote, "changed.txt"), "the old version");
        File.Copy(Path.Combine(site, "docs", "renamed.bin"), Path.Combine(remote, "before-rename.bin"));
        File.WriteAllText(Path.Combine(remote, "old", "deep", "gone.txt"), "gone");
        var address = server.Address.ToString();

        var dry = await SyncAsync("--server", address, "--delete", "-n", site, ":backups/site");
        dry.AssertSuccess();
        Assert.Contains("(dry run)", dry.Stdout);
        Assert.Equal("the old version", File.ReadAllText(Path.Combine(remote, "changed.txt"))); // nothing changed
        Assert.True(File.Exists(Path.Combine(remote, "old", "deep", "gone.txt")));

        var real = await SyncAsync("--server", address, "--delete", site, ":backups/site");
        real.AssertSuccess();
        Assert.Equal(Items(dry), Items(real));
        Assert.Contains("changed changed.txt", Items(real));
        Assert.Contains("deleted old/", Items(real));
        Assert.DoesNotContain(Items(real), l => l.EndsWith(" same.txt", StringComparison.Ordinal));
        AssertMirror(site, remote);

        var again = await SyncAsync("--server", address, "--delete", site, ":backups/site");
        again.AssertSuccess();
        Assert.Empty(Items(again));
    }

    [Fact]
    public async Task A_pull_into_a_missing_folder_mirrors_modes_times_links_and_empty_folders()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var remote = Path.Combine(server.Root, "data");
        BuildTree(remote);
        var copy = local.Combine("copy");

        var dry = await SyncAsync("--server", server.Address.ToString(), "-n", ":data", copy);
        dry.AssertSuccess();
        Assert.False(Directory.Exists(copy));
        var real = await SyncAsync("--server", server.Address.ToString(), ":data", copy);
        real.AssertSuccess();
        Assert.Equal(Items(dry), Items(real));
        Assert.Equal("mkdir   ./", Items(real)[0]);
        AssertMirror(remote, copy);
    }

    [Fact]
    public async Task More_deletions_than_max_delete_allows_delete_nothing_and_exit_13()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var remote = Path.Combine(server.Root, "m");
        Directory.CreateDirectory(remote);
        for (var i = 0; i < 3; i++)
            File.WriteAllText(Path.Combine(remote, $"extra{i}"), "x");
        File.WriteAllText(local.Combine("new.txt"), "new");

        var result = await SyncAsync("--server", server.Address.ToString(), "--delete", "--max-delete", "2", "--json", local.Path, ":m");

        Assert.Equal(ExitCodes.DeleteLimit, result.ExitCode);
        Assert.Equal(3, Directory.GetFiles(remote).Count(f => Path.GetFileName(f).StartsWith("extra", StringComparison.Ordinal)));
        Assert.True(File.Exists(Path.Combine(remote, "new.txt")));
        Assert.Equal("delete_limit", result.JsonLines()[^1].GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_local_folder_inside_the_remote_one_is_refused_once_it_holds_a_copy_of_itself()
    {
        await using var server = await TestServer.StartAsync();
        var site = Path.Combine(server.Root, "site");
        Directory.CreateDirectory(site);
        File.WriteAllText(Path.Combine(site, "index.html"), "<html>");
        (await SyncAsync("--server", server.Address.ToString(), site, ":site/backup")).AssertSuccess(); // copies site into itself

        var again = await SyncAsync("--server", server.Address.ToString(), "--delete", site, ":site/backup");

        Assert.Equal(ExitCodes.PathRefused, again.ExitCode);
        Assert.Contains("one tree", again.Stderr);
        Assert.False(Directory.Exists(Path.Combine(site, "backup", "backup")));
    }

    [Fact]
    public async Task Excluded_destination_entries_are_neither_changed_nor_deleted_nor_their_folders()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        File.WriteAllText(local.Combine("app.log"), "local log");
        File.WriteAllText(local.Combine("index.html"), "<html>");
        var remote = Path.Combine(server.Root, "site");
        Directory.CreateDirectory(Path.Combine(remote, "logs"));
        File.WriteAllText(Path.Combine(remote, "app.log"), "server log");
        File.WriteAllText(Path.Combine(remote, "logs", "old.log"), "kept");
        File.WriteAllText(Path.Combine(remote, "logs", "stale.txt"), "goes");
        File.WriteAllText(Path.Combine(remote, "stale.txt"), "goes");

        var result = await SyncAsync("--server", server.Address.ToString(), "--delete", "--exclude", "*.log", "--json", local.Path, ":site");

        result.AssertSuccess();
        Assert.Equal("server log", File.ReadAllText(Path.Combine(remote, "app.log")));
        Assert.Equal("kept", File.ReadAllText(Path.Combine(remote, "logs", "old.log")));
        Assert.False(File.Exists(Path.Combine(remote, "logs", "stale.txt")));
        Assert.False(File.Exists(Path.Combine(remote, "stale.txt")));
        var events = result.JsonLines();
        Assert.Equal(["new index.html", "deleted logs/stale.txt", "deleted stale.txt"],
            events.Where(e => e.GetProperty("event").GetString() == "item").Select(e => $"{e.GetProperty("action").GetString()} {e.GetProperty("path").GetString()}"));
        var summary = events[^1];
        Assert.Equal("summary", summary.GetProperty("event").GetString());
        Assert.Equal(2, summary.GetProperty("deleted").GetInt32());
        Assert.Equal(1, summary.GetProperty("checked").GetInt32());
    }

    private static void BuildTree(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "docs", "sub"));
        Directory.CreateDirectory(Path.Combine(root, "empty"));
        File.WriteAllText(Path.Combine(root, "same.txt"), "unchanged content");
        File.WriteAllText(Path.Combine(root, "changed.txt"), "the new version, longer");
        File.WriteAllText(Path.Combine(root, "run.sh"), "#!/bin/sh\necho hi\n");
        File.SetUnixFileMode(Path.Combine(root, "run.sh"), (UnixFileMode)0x1ED);
        var bytes = new byte[300_000];
        new Random(3).NextBytes(bytes);
        File.WriteAllBytes(Path.Combine(root, "docs", "renamed.bin"), bytes);
        File.WriteAllText(Path.Combine(root, "docs", "sub", "deep.txt"), "deep");
        File.CreateSymbolicLink(Path.Combine(root, "docs", "latest"), "renamed.bin");
        LocalEntryStat.SetModifiedTime(Path.Combine(root, "docs", "sub", "deep.txt"), 1_600_000_000_987_654_321);
        using var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(root, "pipe"));
        mkfifo.WaitForExit();
    }

    /// <summary>Every entry of <paramref name="source"/> is in <paramref name="copy"/> with the same type, content, mode, time and target, and nothing else is (FIFOs aside).</summary>
    private static void AssertMirror(string source, string copy)
    {
        var expected = Listing(source).Where(e => e.Type != ScanEntryTypes.Other).ToList();
        var actual = Listing(copy);
        Assert.Equal(expected.Select(e => e.Name), actual.Select(e => e.Name));
        foreach (var (want, have) in expected.Zip(actual))
        {
            Assert.Equal(want.Type, have.Type);
            Assert.Equal(want.Mode, have.Mode);
            Assert.Equal(want.Target, have.Target);
            if (want.Type != ScanEntryTypes.Link)
                Assert.True(want.ModifiedNs == have.ModifiedNs, $"{want.Name}: time {have.ModifiedNs}, expected {want.ModifiedNs}");
            if (want.Type == ScanEntryTypes.File)
                Assert.Equal(File.ReadAllBytes(Path.Combine(source, want.Name)), File.ReadAllBytes(Path.Combine(copy, want.Name)));
        }
    }

    private static List<ScanEntry> Listing(string root) =>
        [.. LocalTreeScanner.ScanAsync(root, Ferry.Sync.Filtering.SyncFilter.NoRules, TestTimeouts.Token()).GetAwaiter().GetResult().Entries];
}
