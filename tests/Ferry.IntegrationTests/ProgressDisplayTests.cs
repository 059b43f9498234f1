using System.CommandLine;
using Ferry.Cli;
using Ferry.Testing;
using Spectre.Console.Testing;

namespace Ferry.IntegrationTests;

/// <summary>What a user sees while a transfer runs: progress bars on a terminal, plain lines when redirected, nothing with -q.</summary>
public class ProgressDisplayTests
{
    [Fact]
    public async Task On_a_terminal_each_file_gets_a_progress_bar_with_size_and_rate()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        // 32 MiB at 16 MiB/s lasts at least 1.75 s (the limiter's bucket starts with a quarter second of bytes), so
        // several refreshes (every 100 ms) draw the bar with a rate while the upload runs, however fast the machine.
        var source = TestFiles.Create(local.Combine("movie.bin"), 32L * 1024 * 1024, seed: 4);
        var terminal = new TestConsole().Interactive().Width(140);
        var stdout = new StringWriter();

        var code = await Program.RunAsync(["put", "--plain", "--server", server.Address.ToString(), "--bwlimit", "16M", source, "movie.bin"],
            new InvocationConfiguration { Output = stdout, Error = new StringWriter() },
            new CliEnvironment { Terminal = terminal }, TestTimeouts.Token());

        Assert.Equal(0, code);
        var screen = terminal.Output;
        Assert.Contains("movie.bin", screen);
        Assert.Contains("100%", screen);
        Assert.Contains("32.0 MiB", screen);  // DownloadedColumn
        Assert.Matches(@"[0-9.]+/32\.0 MiB [0-9.]+ [KMG]?i?B/s", screen); // DownloadedColumn and TransferSpeedColumn while running
        Assert.Equal("", stdout.ToString()); // the terminal got it all
    }

    [Fact]
    public async Task Ls_on_a_terminal_is_a_table_with_name_size_modified_and_type()
    {
        await using var server = await TestServer.StartAsync();
        Directory.CreateDirectory(Path.Combine(server.Root, "photos"));
        File.WriteAllBytes(Path.Combine(server.Root, "report.pdf"), new byte[3 * 1024 * 1024 / 2]);
        var terminal = new TestConsole().Width(100);

        var code = await Program.RunAsync(["ls", "--plain", "--server", server.Address.ToString()],
            new InvocationConfiguration { Output = new StringWriter(), Error = new StringWriter() },
            new CliEnvironment { Terminal = terminal }, TestTimeouts.Token());

        Assert.Equal(0, code);
        var lines = terminal.Lines.Where(l => l.Trim().Length > 0).ToList();
        Assert.Matches(@"Name\s+Size\s+Modified\s+Type", lines[0]);
        Assert.Matches(@"photos/\s+-\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+dir", string.Join('\n', lines));
        Assert.Matches(@"report\.pdf\s+1\.5 MiB\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+file", string.Join('\n', lines));
    }

    [Fact]
    public async Task Redirected_output_gets_one_plain_line_per_file_and_quiet_gets_none()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory();
        var source = TestFiles.Create(local.Combine("a.bin"), 3 * 1024 * 1024, seed: 8);

        var plain = await Cli.RunAsync("put", "--plain", "--server", server.Address.ToString(), source, "a.bin");
        plain.AssertSuccess();
        Assert.Matches(@"^a\.bin: 3\.0 MiB in [0-9.]+ s \([0-9.]+ [KMG]?i?B/s\), xxh3-128 [0-9a-f]{32}\s*$", plain.Stdout);
        Assert.DoesNotContain("\u001b[", plain.Stdout); // no escape sequences in a file or pipe

        var quiet = await Cli.RunAsync("get", "--plain", "--server", server.Address.ToString(), "-q", "a.bin", local.Combine("b.bin"));
        quiet.AssertSuccess();
        Assert.Equal("", quiet.Stdout);
        Assert.Equal("", quiet.Stderr);
    }
}
