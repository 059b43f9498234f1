using System.Text.RegularExpressions;
using Ferry.Testing;
using static Ferry.IntegrationTests.ExecProtocolTests;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary>
/// A terminal's master is the server's alone (docs/protocol.md §6.4): a command started while another user's terminal is
/// open must not inherit a descriptor of it, through which it could read what is shown there and type into it.
/// </summary>
public partial class TerminalDescriptorTests
{
    private static object Tty() => new { term = "xterm", cols = 80, rows = 24, xpixel = 0, ypixel = 0 };

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task A_command_started_while_a_terminal_is_open_holds_none_of_its_descriptors(bool unconfined, bool onTerminal)
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowExec = true, ExecUnconfined = unconfined, ExecTimeout = TimeSpan.FromMinutes(1) });
        await using var holder = await HelloAsync(server);
        var marker = $"{Random.Shared.Next(100000, 999999)}.{Random.Shared.Next(1000)}";
        await holder.SendAsync(Json(new { cmd = "exec", id = 1, tty = Tty(), shell = $"sleep {marker}" }));
        Assert.Equal("exec_started", (await holder.ReadAsync())!.Command); // the terminal exists from here on

        await using var other = await HelloAsync(server);
        var result = await ExecAsync(other, onTerminal
            ? new { cmd = "exec", id = 1, tty = Tty(), shell = "ls -l --color=never /proc/self/fd/" }
            : (object)new { cmd = "exec", id = 1, shell = "ls -l --color=never /proc/self/fd/" });
        Assert.Equal(0, result.Code);

        var open = FdLine().Matches(result.Stdout).ToDictionary(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), m => m.Groups[2].Value.TrimEnd('\r'));
        Assert.True(open.ContainsKey(0) && open.ContainsKey(1) && open.ContainsKey(2), result.Stdout);
        // No terminal master at all; the only terminal side a command holds is its own slave, as 0, 1 and 2 (in the
        // sandbox it shows as /dev/console).
        Assert.DoesNotContain(open, fd => fd.Value.Contains("ptmx", StringComparison.Ordinal));
        Assert.DoesNotContain(open, fd => fd.Key > 2 && (fd.Value.StartsWith("/dev/pts/", StringComparison.Ordinal) || fd.Value == "/dev/console"));
        // Nothing else either, not even what the server inherited itself (a test runner's descriptors): only ls's own
        // listing of /proc/self/fd.
        Assert.All(open.Where(fd => fd.Key > 2), fd => Assert.Matches(@"^/proc/\d+/fd$", fd.Value));
        if (!onTerminal)
            Assert.DoesNotContain(open, fd => fd.Value.StartsWith("/dev/pts/", StringComparison.Ordinal) || fd.Value == "/dev/console");

        await holder.SendAsync(Json(new { cmd = "signal", id = 1, signal = "KILL" }));
        await AssertNoProcessWithAsync(marker);
    }

    /// <summary>One descriptor in <c>ls -l /proc/self/fd/</c>: "... 3 -> /dev/ptmx".</summary>
    [GeneratedRegex(@"\s(\d+) -> (\S+)")]
    private static partial Regex FdLine();
}
