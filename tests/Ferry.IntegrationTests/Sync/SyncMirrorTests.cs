using System.Diagnostics;
using System.Text.Json;
using Ferry.Testing;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests.Sync;

/// <summary>
/// <c>ferry sync</c> as a user runs it: a real <c>ferry</c> process (with its own hash cache folder) against a real server
/// over loopback, on real trees, compared afterwards entry by entry (type, mode, size, link target, content and
/// modification time to the nanosecond).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class SyncMirrorTests(ITestOutputHelper output)
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task A_push_then_a_pull_mirror_files_folders_links_modes_and_nanosecond_times()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-sync");
        var source = BuildTree(local.Combine("site"));

        var push = await SyncAsync(server, local, source, ":mirror");
        push.AssertSuccess();
        AssertMirror(source, Path.Combine(server.Root, "mirror"));
        Assert.Contains("new     a.txt", push.Stdout);
        Assert.Contains("mkdir   empty/", push.Stdout);
        Assert.Contains("link    docs/latest -> ../a.txt", push.Stdout);

        var pull = await SyncAsync(server, local, ":mirror", local.Combine("copy"));
        pull.AssertSuccess();
        AssertMirror(source, local.Combine("copy"));
    }

    [Fact]
    public async Task A_second_run_with_nothing_changed_prints_no_step_and_moves_no_data()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-sync");
        var source = BuildTree(local.Combine("site"));
        (await SyncAsync(server, local, source, ":mirror")).AssertSuccess();

        var again = await SyncAsync(server, local, "--json", source, ":mirror");
        again.AssertSuccess();
        var events = again.JsonLines();
        Assert.DoesNotContain(events, e => e.GetProperty("event").GetString() == "item");
        var summary = Assert.Single(events, e => e.GetProperty("event").GetString() == "summary");
        Assert.Equal(0, summary.GetProperty("bytes_sent").GetInt64());
        Assert.Equal(0, summary.GetProperty("changed").GetInt64());

        var pulled = local.Combine("copy");
        (await SyncAsync(server, local, ":mirror", pulled)).AssertSuccess();
        var pullAgain = await SyncAsync(server, local, "--json", ":mirror", pulled);
        pullAgain.AssertSuccess();
        Assert.DoesNotContain(pullAgain.JsonLines(), e => e.GetProperty("event").GetString() == "item");
    }

    [Fact]
    public async Task Edits_renames_and_deletions_send_only_the_changed_bytes_both_ways()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-sync");
        var source = Directory.CreateDirectory(local.Combine("data")).FullName;
        TestFiles.Create(Path.Combine(source, "big.bin"), 8 * MiB, seed: 1);
        TestFiles.Create(Path.Combine(source, "moved.bin"), 4 * MiB, seed: 2);
        TestFiles.Create(Path.Combine(source, "gone.bin"), 1 * MiB, seed: 3);
        (await SyncAsync(server, local, source, ":data")).AssertSuccess();

        // 64 KiB inserted in the middle of big.bin, moved.bin renamed, gone.bin deleted.
        var big = File.ReadAllBytes(Path.Combine(source, "big.bin"));
        var inserted = new byte[64 * 1024];
        new Random(9).NextBytes(inserted);
        File.WriteAllBytes(Path.Combine(source, "big.bin"), [.. big.AsSpan(0, 4 * MiB), .. inserted, .. big.AsSpan(4 * MiB)]);
        File.Move(Path.Combine(source, "moved.bin"), Path.Combine(source, "renamed.bin"));
        File.Delete(Path.Combine(source, "gone.bin"));

        var push = await SyncAsync(server, local, "--json", "--delete", source, ":data");
        push.AssertSuccess();
        AssertMirror(source, Path.Combine(server.Root, "data"));
        var sent = Summary(push).GetProperty("bytes_sent").GetInt64();
        output.WriteLine($"push after the edits: {sent} bytes sent of {8 * MiB + 64 * 1024 + 4 * MiB}");
        Assert.InRange(sent, 64 * 1024, 1 * MiB); // the insertion and the chunks around it; the rename costs nothing
        Assert.Contains(push.JsonLines(), e => e.GetProperty("event").GetString() == "item"
            && e.GetProperty("action").GetString() == "deleted" && e.GetProperty("path").GetString() == "gone.bin");

        // The other way: the server's copy is edited, the local one follows.
        var pulled = local.Combine("pulled");
        (await SyncAsync(server, local, ":data", pulled)).AssertSuccess();
        var overwrite = new byte[64 * 1024];
        new Random(10).NextBytes(overwrite); // bytes found nowhere else, so none can be reused
        using (var remote = File.OpenWrite(Path.Combine(server.Root, "data", "big.bin")))
        {
            remote.Position = 2 * MiB;
            remote.Write(overwrite);
        }
        var pull = await SyncAsync(server, local, "--json", ":data", pulled);
        pull.AssertSuccess();
        AssertMirror(Path.Combine(server.Root, "data"), pulled);
        var pulledBytes = Summary(pull).GetProperty("bytes_sent").GetInt64();
        output.WriteLine($"pull after an overwrite of 64 KiB: {pulledBytes} bytes moved");
        Assert.InRange(pulledBytes, 64 * 1024, 1 * MiB);
    }

    [Fact]
    public async Task A_dry_run_prints_exactly_the_lines_of_the_real_run_and_changes_nothing()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-sync");
        var source = BuildTree(local.Combine("site"));
        (await SyncAsync(server, local, source, ":mirror")).AssertSuccess();

        // Every kind of step: new file and folder, changed content, mode only, a new time, a link re-pointed, deletions.
        File.WriteAllText(Path.Combine(source, "a.txt"), "a changed a");
        Directory.CreateDirectory(Path.Combine(source, "fresh", "deeper"));
        File.WriteAllText(Path.Combine(source, "fresh", "deeper", "n.txt"), "new");
        File.SetUnixFileMode(Path.Combine(source, "docs", "guide.md"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        SetTime(Path.Combine(source, "docs", "notes.txt"), 1_700_000_123_456_789_012);
        File.Delete(Path.Combine(source, "docs", "latest"));
        File.CreateSymbolicLink(Path.Combine(source, "docs", "latest"), "guide.md");
        File.Delete(Path.Combine(source, "bin", "tool.sh"));
        var before = Describe(Path.Combine(server.Root, "mirror"));

        var dry = await SyncAsync(server, local, "--delete", "-n", source, ":mirror");
        dry.AssertSuccess();
        Assert.Equal(before, Describe(Path.Combine(server.Root, "mirror")));
        var real = await SyncAsync(server, local, "--delete", source, ":mirror");
        real.AssertSuccess();
        AssertMirror(source, Path.Combine(server.Root, "mirror"));

        var dryLines = StepLines(dry.Stdout);
        Assert.Equal(dryLines, StepLines(real.Stdout));
        output.WriteLine(string.Join('\n', dryLines));
        Assert.Contains("changed a.txt", dryLines);
        Assert.Contains("mkdir   fresh/deeper/", dryLines);
        Assert.Contains("new     fresh/deeper/n.txt", dryLines);
        Assert.Contains("link    docs/latest -> guide.md", dryLines);
        Assert.Contains("deleted bin/tool.sh", dryLines);
        Assert.Contains(dryLines, l => l.StartsWith("attrs   docs/guide.md", StringComparison.Ordinal));
        // Without --checksum a new time with the same size means new content, as in rsync: the file is sent (as a delta).
        Assert.Contains("changed docs/notes.txt", dryLines);
    }

    [Fact]
    public async Task Filters_leave_excluded_entries_alone_on_both_sides()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-sync");
        var source = Directory.CreateDirectory(local.Combine("proj")).FullName;
        Directory.CreateDirectory(Path.Combine(source, "build"));
        Directory.CreateDirectory(Path.Combine(source, "src"));
        File.WriteAllText(Path.Combine(source, "src", "main.c"), "int main;");
        File.WriteAllText(Path.Combine(source, "src", "debug.log"), "log");
        File.WriteAllText(Path.Combine(source, "src", "keep.log"), "kept");
        File.WriteAllText(Path.Combine(source, "build", "out.o"), "object");
        File.WriteAllText(Path.Combine(source, "secret.key"), "key");
        File.WriteAllText(Path.Combine(source, ".ferryignore"), "build/\n");
        var excludes = local.Combine("excludes");
        File.WriteAllText(excludes, "# keys stay here\n*.key\n");
        // The destination already holds an excluded file that --delete must leave.
        Directory.CreateDirectory(Path.Combine(server.Root, "proj"));
        File.WriteAllText(Path.Combine(server.Root, "proj", "server-only.log"), "theirs");

        var push = await SyncAsync(server, local, "--delete", "--include", "keep.log", "--exclude", "*.log", "--exclude-from", excludes, source, ":proj");
        push.AssertSuccess();
        var remote = Path.Combine(server.Root, "proj");
        Assert.True(File.Exists(Path.Combine(remote, "src", "main.c")));
        Assert.True(File.Exists(Path.Combine(remote, "src", "keep.log")));
        Assert.False(File.Exists(Path.Combine(remote, "src", "debug.log")));
        Assert.False(Directory.Exists(Path.Combine(remote, "build")));
        Assert.False(File.Exists(Path.Combine(remote, "secret.key")));
        Assert.Equal("theirs", File.ReadAllText(Path.Combine(remote, "server-only.log")));
    }

    [Fact]
    public async Task A_nested_ferryignore_read_by_the_local_scan_also_protects_the_servers_matching_files_from_delete()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-sync");
        var source = Directory.CreateDirectory(local.Combine("p")).FullName;
        Directory.CreateDirectory(Path.Combine(source, "a", "b"));
        File.WriteAllText(Path.Combine(source, "a", "b", ".ferryignore"), "*.tmp\ncache/\n");
        File.WriteAllText(Path.Combine(source, "a", "b", "kept.txt"), "kept");
        File.WriteAllText(Path.Combine(source, "a", "b", "local.tmp"), "not sent");
        File.WriteAllText(Path.Combine(source, "a", "other.tmp"), "sent: the rule is b's alone");
        var remote = Path.Combine(server.Root, "p");
        Directory.CreateDirectory(Path.Combine(remote, "a", "b", "cache"));
        File.WriteAllText(Path.Combine(remote, "a", "b", "server.tmp"), "theirs");
        File.WriteAllText(Path.Combine(remote, "a", "b", "cache", "c.bin"), "theirs");
        File.WriteAllText(Path.Combine(remote, "a", "gone.txt"), "deleted");

        var push = await SyncAsync(server, local, "--delete", source, ":p");

        push.AssertSuccess();
        Assert.Equal("kept", File.ReadAllText(Path.Combine(remote, "a", "b", "kept.txt")));
        Assert.True(File.Exists(Path.Combine(remote, "a", "other.tmp")));
        Assert.False(File.Exists(Path.Combine(remote, "a", "b", "local.tmp")));
        Assert.Equal("theirs", File.ReadAllText(Path.Combine(remote, "a", "b", "server.tmp")));
        Assert.Equal("theirs", File.ReadAllText(Path.Combine(remote, "a", "b", "cache", "c.bin")));
        Assert.False(File.Exists(Path.Combine(remote, "a", "gone.txt")));
    }

    [Fact]
    public async Task Max_delete_refuses_every_deletion_with_exit_13_and_still_syncs_the_rest()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-sync");
        var source = Directory.CreateDirectory(local.Combine("d")).FullName;
        for (var i = 0; i < 3; i++)
            File.WriteAllText(Path.Combine(source, $"old{i}.txt"), $"old {i}");
        (await SyncAsync(server, local, source, ":d")).AssertSuccess();
        for (var i = 0; i < 3; i++)
            File.Delete(Path.Combine(source, $"old{i}.txt"));
        File.WriteAllText(Path.Combine(source, "new.txt"), "new");

        var limited = await SyncAsync(server, local, "--delete", "--max-delete", "2", source, ":d");
        Assert.Equal(13, limited.ExitCode);
        Assert.True(File.Exists(Path.Combine(server.Root, "d", "new.txt")));
        for (var i = 0; i < 3; i++)
            Assert.True(File.Exists(Path.Combine(server.Root, "d", $"old{i}.txt")));

        (await SyncAsync(server, local, "--delete", "--max-delete", "3", source, ":d")).AssertSuccess();
        AssertMirror(source, Path.Combine(server.Root, "d"));
    }

    [Fact]
    public async Task Deletions_never_run_after_a_failed_step_and_a_link_out_of_the_root_is_refused()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-sync");
        var source = Directory.CreateDirectory(local.Combine("d")).FullName;
        File.WriteAllText(Path.Combine(source, "a.txt"), "a");
        File.WriteAllText(Path.Combine(source, "b.txt"), "b");
        (await SyncAsync(server, local, source, ":d")).AssertSuccess();
        File.Delete(Path.Combine(source, "b.txt"));
        File.CreateSymbolicLink(Path.Combine(source, "escape"), "../../../../../../etc");
        File.WriteAllText(Path.Combine(source, "c.txt"), "c");

        var run = await SyncAsync(server, local, "--delete", source, ":d");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("path_escapes_root", run.Stderr);
        Assert.False(Path.Exists(Path.Combine(server.Root, "d", "escape")));
        Assert.Equal("c", File.ReadAllText(Path.Combine(server.Root, "d", "c.txt")));  // the rest went on
        Assert.True(File.Exists(Path.Combine(server.Root, "d", "b.txt")));              // but nothing was deleted
    }

    [Fact]
    public async Task A_sync_killed_mid_file_leaves_no_partial_file_and_the_next_run_sends_only_the_rest()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-sync");
        var source = Directory.CreateDirectory(local.Combine("d")).FullName;
        const int size = 64 * MiB;
        var file = TestFiles.Create(Path.Combine(source, "big.bin"), size, seed: 5);
        var target = Path.Combine(server.Root, "d", "big.bin");

        await using (var relay = LoopbackRelay.Start(server.EndPoint, upstreamBudget: size / 2))
        {
            await using var client = FerryProcess.Start(["sync", "--plain", "--server", relay.EndPoint.ToString(), "-q", source, ":d"],
                environment: Environment(local));
            await relay.Held.WaitAsync(TestTimeouts.Default);
            client.Signal("KILL");
            await client.WaitForExitAsync();
        }
        Assert.False(File.Exists(target));

        var rerun = await SyncAsync(server, local, "--json", source, ":d");
        rerun.AssertSuccess();
        Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(target));
        var sent = Summary(rerun).GetProperty("bytes_sent").GetInt64();
        output.WriteLine($"resumed: {sent} of {size} bytes sent again");
        Assert.InRange(sent, 1, size * 3 / 4);
    }

    // ---------------------------------------------------------------------------------------------------------------

    private static async Task<CliResult> SyncAsync(TestServer server, TempDirectory local, params string[] args)
    {
        var (code, stdout, stderr) = await RunAsync(["sync", "--plain", "--server", server.Address.ToString(), .. args], Environment(local));
        return new CliResult(code, stdout, stderr);
    }

    private static async Task<(int, string, string)> RunAsync(string[] args, Dictionary<string, string> environment)
    {
        await using var process = FerryProcess.Start(args, environment: environment);
        await process.WaitForExitAsync();
        return (process.ExitCode, process.Stdout, process.Stderr);
    }

    /// <summary>The client's hash cache goes to the test's folder, never the user's.</summary>
    private static Dictionary<string, string> Environment(TempDirectory local) => new() { ["XDG_CACHE_HOME"] = local.Combine(".cache") };

    private static JsonElement Summary(CliResult result) =>
        Assert.Single(result.JsonLines(), e => e.GetProperty("event").GetString() == "summary");

    private static List<string> StepLines(string stdout) => stdout
        .Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Where(l => !l.StartsWith("sync:", StringComparison.Ordinal))
        .ToList();

    /// <summary>Files with modes, nanosecond times, a nested link, an empty folder and an executable.</summary>
    private static string BuildTree(string root)
    {
        Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(root, "a.txt"), "alpha");
        Directory.CreateDirectory(Path.Combine(root, "docs"));
        File.WriteAllText(Path.Combine(root, "docs", "guide.md"), "# guide");
        File.WriteAllText(Path.Combine(root, "docs", "notes.txt"), "notes");
        File.CreateSymbolicLink(Path.Combine(root, "docs", "latest"), "../a.txt");
        Directory.CreateDirectory(Path.Combine(root, "empty"));
        Directory.CreateDirectory(Path.Combine(root, "bin"));
        File.WriteAllText(Path.Combine(root, "bin", "tool.sh"), "#!/bin/sh\necho hi\n");
        File.SetUnixFileMode(Path.Combine(root, "bin", "tool.sh"), (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(Path.Combine(root, "a.txt"), (UnixFileMode)0b110_000_000);
        TestFiles.Create(Path.Combine(root, "docs", "data.bin"), 300 * 1024, seed: 11);
        SetTime(Path.Combine(root, "a.txt"), 1_600_000_000_123_456_789);
        SetTime(Path.Combine(root, "docs", "data.bin"), 1_650_000_000_987_654_321);
        return root;
    }

    /// <summary>Sets a modification time to the nanosecond (touch, since .NET's file times stop at 100 ns).</summary>
    private static void SetTime(string path, long unixNs)
    {
        using var touch = Process.Start("touch", ["-m", "-h", "-d", $"@{unixNs / 1_000_000_000}.{unixNs % 1_000_000_000:D9}", path])!;
        touch.WaitForExit();
        Assert.Equal(0, touch.ExitCode);
    }

    private static void AssertMirror(string expected, string actual)
    {
        var want = Describe(expected);
        var got = Describe(actual);
        Assert.True(want.SequenceEqual(got), $"the trees differ:\nexpected:\n{string.Join('\n', want)}\nactual:\n{string.Join('\n', got)}");
        foreach (var file in Directory.EnumerateFiles(expected, "*", SearchOption.AllDirectories))
        {
            if (new FileInfo(file).LinkTarget is not null)
                continue;
            var twin = Path.Combine(actual, Path.GetRelativePath(expected, file));
            Assert.True(File.ReadAllBytes(file).AsSpan().SequenceEqual(File.ReadAllBytes(twin)), $"{twin} differs from {file}");
        }
    }

    /// <summary>One line per entry: path, type, mode, size, link target and mtime in ns, from find.</summary>
    private static List<string> Describe(string root)
    {
        var info = new ProcessStartInfo("find", [root, "-mindepth", "1", "(", "-type", "d", "-printf", "%P %y %m %T@\\n", ")", "-o", "-printf", "%P %y %m %s %l %T@\\n"])
        {
            RedirectStandardOutput = true,
        };
        using var find = Process.Start(info)!;
        var text = find.StandardOutput.ReadToEnd();
        find.WaitForExit();
        Assert.Equal(0, find.ExitCode);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.Contains("/.ferry-", StringComparison.Ordinal) && !l.StartsWith(".ferry-", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToList();
    }
}
