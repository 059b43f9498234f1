using System.Diagnostics;
using System.Security.Cryptography;
using Ferry.Testing;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests;

/// <summary>ferry put/get/ls/stat/mkdir/rm/mv as a user runs them, against the real server over loopback.</summary>
public class FileCliTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Put_r_and_get_r_of_1000_files_are_byte_identical_over_one_connection()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var source = local.Combine("tree");
        var content = new byte[4096];
        for (var i = 0; i < 1000; i++)
        {
            var dir = Path.Combine(source, $"d{i % 10}", $"e{i % 7}");
            Directory.CreateDirectory(dir);
            new Random(i).NextBytes(content);
            File.WriteAllBytes(Path.Combine(dir, $"f{i:D4}.bin"), content);
        }
        Directory.CreateDirectory(Path.Combine(source, "empty", "dir"));

        var connectionsBefore = Connections(server);
        var watch = Stopwatch.StartNew();
        var put = await Cli.RunAsync("put", "--plain", "--server", server.Address.ToString(), "-r", "-q", source, "backup/tree");
        var putTime = watch.Elapsed;
        put.AssertSuccess();
        Assert.Equal(1, Connections(server) - connectionsBefore); // the whole tree, pipelined, over one connection
        AssertSameTree(source, Path.Combine(server.Root, "backup", "tree"));

        watch.Restart();
        var get = await Cli.RunAsync("get", "--plain", "--server", server.Address.ToString(), "-r", "-q", "backup/tree", local.Combine("copy"));
        var getTime = watch.Elapsed;
        get.AssertSuccess();
        Assert.Equal(2, Connections(server) - connectionsBefore);
        AssertSameTree(source, local.Combine("copy"));
        output.WriteLine($"put -r of 1000 x 4 KiB files: {putTime.TotalMilliseconds:0} ms; get -r: {getTime.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task Put_of_an_existing_file_is_refused_with_exit_code_7_before_any_data_moves_and_force_replaces_it()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var first = TestFiles.CreateText(local.Combine("a.txt"), "first version");
        Assert.Equal(0, (await Cli.RunAsync("put", "--plain", "--server", server.Address.ToString(), first, "a.txt")).ExitCode);
        var second = TestFiles.Create(local.Combine("b.bin"), 8 * 1024 * 1024, seed: 2);
        var dataFramesBefore = server.Logs.Lines.Count(l => l.Message.StartsWith("put_data", StringComparison.Ordinal));

        var refused = await Cli.RunAsync("put", "--plain", "--server", server.Address.ToString(), second, "a.txt");
        Assert.Equal(7, refused.ExitCode);
        Assert.Contains("already_exists", refused.Stderr);
        Assert.Equal("first version", File.ReadAllText(Path.Combine(server.Root, "a.txt")));
        Assert.Equal(dataFramesBefore, server.Logs.Lines.Count(l => l.Message.StartsWith("put_data", StringComparison.Ordinal)));

        (await Cli.RunAsync("put", "--plain", "--server", server.Address.ToString(), "--force", second, "a.txt")).AssertSuccess();
        TestFiles.AssertSame(second, Path.Combine(server.Root, "a.txt"));
        Assert.True(server.Logs.Lines.Count(l => l.Message.StartsWith("put_data", StringComparison.Ordinal)) > dataFramesBefore); // the probe sees data frames
    }

    [Fact]
    public async Task Get_onto_an_existing_local_file_is_refused_with_exit_code_7_without_asking_the_server_and_force_replaces_it()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        File.WriteAllText(Path.Combine(server.Root, "remote.txt"), "from the server");
        var target = TestFiles.CreateText(local.Combine("remote.txt"), "mine");

        var refused = await Cli.RunAsync("get", "--plain", "--server", server.Address.ToString(), "remote.txt", target);
        Assert.Equal(7, refused.ExitCode);
        Assert.Contains("--force", refused.Stderr);
        Assert.Equal("mine", File.ReadAllText(target));
        Assert.DoesNotContain(server.Logs.Lines, l => l.Message.StartsWith("get done", StringComparison.Ordinal));

        (await Cli.RunAsync("get", "--plain", "--server", server.Address.ToString(), "-f", "remote.txt", target)).AssertSuccess();
        Assert.Equal("from the server", File.ReadAllText(target));
        Assert.Contains(server.Logs.Lines, l => l.Message.StartsWith("get done", StringComparison.Ordinal)); // the probe sees gets
        Assert.Empty(Directory.GetFiles(local.Path, ".ferry-part.*"));
    }

    [Fact]
    public async Task Json_output_is_one_event_per_line_ending_with_done_and_sha256_is_checked_end_to_end()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("data.bin"), 5 * 1024 * 1024 + 3, seed: 3);
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(source)));

        var put = await Cli.RunAsync("put", "--plain", "--server", server.Address.ToString(), "--json", "--checksum", "sha256", source, "data.bin");
        put.AssertSuccess();
        var events = put.JsonLines();
        Assert.Equal("start", events[0].GetProperty("event").GetString());
        Assert.Equal(5 * 1024 * 1024 + 3, events[0].GetProperty("bytes").GetInt64());
        var done = Assert.Single(events, e => e.GetProperty("event").GetString() == "done");
        Assert.Equal("data.bin", done.GetProperty("path").GetString());
        Assert.Equal("sha256", done.GetProperty("checksum").GetString());
        Assert.Equal(sha256, done.GetProperty("hash").GetString());
        Assert.True(done.GetProperty("seconds").GetDouble() >= 0);

        var get = await Cli.RunAsync("get", "--plain", "--server", server.Address.ToString(), "--json", "--checksum", "sha256", "data.bin", local.Combine("back.bin"));
        get.AssertSuccess();
        Assert.Equal(sha256, get.JsonLines().Single(e => e.GetProperty("event").GetString() == "done").GetProperty("hash").GetString());
        TestFiles.AssertSame(source, local.Combine("back.bin"));

        var missing = await Cli.RunAsync("get", "--plain", "--server", server.Address.ToString(), "--json", "nope.bin", local.Combine("nope.bin"));
        Assert.Equal(6, missing.ExitCode);
        var error = Assert.Single(missing.JsonLines());
        Assert.Equal("error", error.GetProperty("event").GetString());
        Assert.Equal("not_found", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Local_wildcards_are_expanded_like_a_shell_and_several_sources_need_a_directory()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        TestFiles.CreateText(local.Combine("a.txt"), "a");
        TestFiles.CreateText(local.Combine("b.txt"), "b");
        TestFiles.CreateText(local.Combine("c.md"), "c");
        TestFiles.CreateText(local.Combine(".hidden.txt"), "h");

        (await Cli.RunAsync("put", "--plain", "--server", server.Address.ToString(), "-q", local.Combine("*.txt"), "docs/")).AssertSuccess();
        Assert.Equal(["a.txt", "b.txt"], Directory.GetFileSystemEntries(Path.Combine(server.Root, "docs")).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        (await Cli.RunAsync("put", "--plain", "--server", server.Address.ToString(), "-q", local.Combine("[a-b].txt"), local.Combine("?.md"), "more/")).AssertSuccess();
        Assert.Equal(["a.txt", "b.txt", "c.md"], Directory.GetFileSystemEntries(Path.Combine(server.Root, "more")).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var noMatch = await Cli.RunAsync("put", "--plain", "--server", server.Address.ToString(), local.Combine("*.pdf"), "docs/");
        Assert.Equal(6, noMatch.ExitCode);
        Assert.Contains("no local file matches", noMatch.Stderr);

        var notADirectory = await Cli.RunAsync("put", "--plain", "--server", server.Address.ToString(), local.Combine("a.txt"), local.Combine("b.txt"), "docs/a.txt");
        Assert.Equal(2, notADirectory.ExitCode);
        Assert.Contains("not a directory", notADirectory.Stderr);
    }

    [Fact]
    public async Task Ls_stat_mkdir_rm_and_mv_behave_as_the_spec_says()
    {
        await using var server = await TestServer.StartAsync();
        var s = server.Address.ToString();

        (await Cli.RunAsync("mkdir", "--plain", "--server", s, "-p", "a/b/c")).AssertSuccess();
        Assert.True(Directory.Exists(Path.Combine(server.Root, "a", "b", "c")));
        (await Cli.RunAsync("mkdir", "--plain", "--server", s, "-p", "a/b/c")).AssertSuccess(); // -p accepts an existing directory
        Assert.Equal(7, (await Cli.RunAsync("mkdir", "--plain", "--server", s, "a/b")).ExitCode); // already_exists
        Assert.Equal(6, (await Cli.RunAsync("mkdir", "--plain", "--server", s, "x/y")).ExitCode); // parent not found

        File.WriteAllText(Path.Combine(server.Root, "a", "b", "file.txt"), "12345");
        var ls = await Cli.RunAsync("ls", "--plain", "--server", s, "a/b");
        ls.AssertSuccess();
        var lines = ls.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^c\s+0\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+dir$", lines[0].TrimEnd());
        Assert.Matches(@"^file\.txt\s+5\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+file$", lines[1].TrimEnd());
        var recursive = await Cli.RunAsync("ls", "--plain", "--server", s, "-r", "a");
        Assert.Equal(["b", "b/c", "b/file.txt"], recursive.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]));

        var stat = await Cli.RunAsync("stat", "--plain", "--server", s, "a/b/file.txt");
        stat.AssertSuccess();
        Assert.Contains("type:     file", stat.Stdout);
        Assert.Contains("size:     5 (5 B)", stat.Stdout);
        Assert.Equal(6, (await Cli.RunAsync("stat", "--plain", "--server", s, "a/nothing")).ExitCode);

        File.WriteAllText(Path.Combine(server.Root, "other.txt"), "other");
        Assert.Equal(7, (await Cli.RunAsync("mv", "--plain", "--server", s, "other.txt", "a/b/file.txt")).ExitCode);
        (await Cli.RunAsync("mv", "--plain", "--server", s, "--force", "other.txt", "a/b/file.txt")).AssertSuccess();
        Assert.Equal("other", File.ReadAllText(Path.Combine(server.Root, "a", "b", "file.txt")));
        Assert.False(File.Exists(Path.Combine(server.Root, "other.txt")));
        (await Cli.RunAsync("mv", "--plain", "--server", s, "a/b", "moved")).AssertSuccess();
        Assert.True(File.Exists(Path.Combine(server.Root, "moved", "file.txt")));

        var notEmpty = await Cli.RunAsync("rm", "--plain", "--server", s, "moved");
        Assert.Equal(1, notEmpty.ExitCode);
        Assert.Contains("directory_not_empty", notEmpty.Stderr);
        (await Cli.RunAsync("rm", "--plain", "--server", s, "-r", "moved")).AssertSuccess();
        Assert.False(Directory.Exists(Path.Combine(server.Root, "moved")));
        (await Cli.RunAsync("rm", "--plain", "--server", s, "a")).AssertSuccess(); // now empty
        Assert.Empty(Directory.GetFileSystemEntries(server.Root));
    }

    [Theory]
    [InlineData("get", "../../etc/passwd")]
    [InlineData("get", "a/../../secret")]
    [InlineData("ls", "..")]
    [InlineData("stat", "/etc/passwd")]
    [InlineData("rm", "-r", "../..")]
    public async Task Paths_that_leave_the_root_fail_with_exit_code_10(params string[] command)
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var result = await Cli.RunAsync([command[0], "--plain", "--server", server.Address.ToString(), .. command[1..], .. command[0] == "get" ? new[] { local.Combine("out") } : []]);
        Assert.Equal(10, result.ExitCode);
        Assert.Matches("path_escapes_root|path_invalid", result.Stderr);
        Assert.Empty(Directory.GetFileSystemEntries(local.Path));
    }

    [Fact]
    public async Task Put_to_a_path_that_leaves_the_root_fails_with_exit_code_10()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var file = TestFiles.CreateText(local.Combine("x.txt"), "x");
        var result = await Cli.RunAsync("put", "--plain", "--server", server.Address.ToString(), file, "../x.txt");
        Assert.Equal(10, result.ExitCode);
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(server.Root)!, "x.txt")));
    }

    private static int Connections(TestServer server) => server.Logs.Lines.Count(l => l.EventId.Id == 2000);

    private static void AssertSameTree(string expected, string actual)
    {
        static List<string> Entries(string root) => Directory.GetFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(root, p)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Entries(expected), Entries(actual));
        foreach (var file in Directory.GetFiles(expected, "*", SearchOption.AllDirectories))
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(actual, Path.GetRelativePath(expected, file))));
    }
}
