using Ferry.Testing;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests.Sync;

/// <summary>setattr, symlink and put's mode and mtime_ns (docs/protocol.md §5.9.3, §5.9.5), at the frame level.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class SetAttributesAndSymlinkTests : SyncWireTest
{
    private const long SomeTimeNs = 1_764_000_000_123_456_789;

    private static long MtimeNs(string path) => (File.GetLastWriteTimeUtc(path) - DateTime.UnixEpoch).Ticks * 100;

    private static long LinkMtimeNs(string path) => (new FileInfo(path).LastWriteTimeUtc - DateTime.UnixEpoch).Ticks * 100;

    [Fact]
    public void The_hello_lists_the_sync_commands()
    {
        foreach (var command in new[] { "scan", "chunks", "setattr", "symlink" })
            Assert.Contains(command, Peer.Features);
    }

    [Fact]
    public async Task Setattr_sets_mode_and_nanosecond_time_and_masks_special_bits()
    {
        await File.WriteAllTextAsync(Root("f.txt"), "x");
        Directory.CreateDirectory(Root("d"));
        Assert.Equal("ok", await Peer.AskAsync(new { cmd = "setattr", path = "f.txt", mode = 0b111_101_101 | 0xE00, mtime_ns = SomeTimeNs }));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherExecute, File.GetUnixFileMode(Root("f.txt")));
        // .NET keeps 100 ns ticks: the time is right to that precision.
        Assert.Equal(SomeTimeNs / 100 * 100, MtimeNs(Root("f.txt")));

        Assert.Equal("ok", await Peer.AskAsync(new { cmd = "setattr", path = "d", mode = 448 }));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Root("d")));
    }

    [Fact]
    public async Task Setattr_refuses_nothing_to_set_negative_modes_and_missing_paths()
    {
        await File.WriteAllTextAsync(Root("f.txt"), "x");
        Assert.Equal("field_invalid", await Peer.AskAsync(new { cmd = "setattr", path = "f.txt" }));
        Assert.Equal("field_invalid", await Peer.AskAsync(new { cmd = "setattr", path = "f.txt", mode = -1 }));
        Assert.Equal("not_found", await Peer.AskAsync(new { cmd = "setattr", path = "nope", mode = 420 }));
        Assert.Equal("path_escapes_root", await Peer.AskAsync(new { cmd = "setattr", path = "../x", mode = 420 }));
        Assert.Equal("path_invalid", await Peer.AskAsync(new { cmd = "setattr", path = ".ferry-part.x", mode = 420 }));
    }

    [Fact]
    public async Task Setattr_on_a_link_sets_only_the_links_own_time_never_its_target()
    {
        var target = Outside.Combine("victim.txt");
        await File.WriteAllTextAsync(target, "outside");
        File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var before = MtimeNs(target);
        File.CreateSymbolicLink(Root("l"), target);

        Assert.Equal("ok", await Peer.AskAsync(new { cmd = "setattr", path = "l", mode = 511, mtime_ns = SomeTimeNs }));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(target));
        Assert.Equal(before, MtimeNs(target));
        Assert.Equal(SomeTimeNs / 100 * 100, LinkMtimeNs(Root("l")));
    }

    [Fact]
    public async Task Setattr_through_a_folder_swapped_for_a_link_out_is_refused()
    {
        Directory.CreateDirectory(Root("d"));
        await File.WriteAllTextAsync(Root("d/f.txt"), "in");
        Assert.Equal("ok", await Peer.AskAsync(new { cmd = "setattr", path = "d/f.txt", mode = 384 }));

        var victim = Outside.Combine("f.txt");
        await File.WriteAllTextAsync(victim, "outside");
        File.SetUnixFileMode(victim, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Directory.Delete(Root("d"), recursive: true);
        Directory.CreateSymbolicLink(Root("d"), Outside.Path);

        Assert.Equal("path_escapes_root", await Peer.AskAsync(new { cmd = "setattr", path = "d/f.txt", mode = 511, mtime_ns = SomeTimeNs }));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(victim));
        Assert.NotEqual(SomeTimeNs / 100 * 100, MtimeNs(victim));
    }

    [Fact]
    public async Task Symlink_creates_a_relative_link_that_stays_inside()
    {
        Directory.CreateDirectory(Root("a/b"));
        await File.WriteAllTextAsync(Root("top.txt"), "top");
        Assert.Equal("ok", await Peer.AskAsync(new { cmd = "symlink", path = "a/b/l", target = "../../top.txt" }));
        Assert.Equal("../../top.txt", new FileInfo(Root("a/b/l")).LinkTarget);
        Assert.Equal("top", await File.ReadAllTextAsync(Root("a/b/l")));
        // A link to something missing is fine: only where it points is checked.
        Assert.Equal("ok", await Peer.AskAsync(new { cmd = "symlink", path = "dangling", target = "not/yet" }));
        Assert.Equal("not/yet", new FileInfo(Root("dangling")).LinkTarget);
    }

    [Theory]
    [InlineData("../outside", "path_escapes_root")]
    [InlineData("../../..", "path_escapes_root")]
    [InlineData("x/../../..", "path_invalid")]
    [InlineData("/etc/passwd", "path_invalid")]
    [InlineData("a\0b", "path_invalid")]
    [InlineData("", "path_invalid")]
    public async Task Symlink_targets_that_leave_the_root_or_are_not_relative_are_refused(string target, string code)
    {
        Assert.Equal(code, await Peer.AskAsync(new { cmd = "symlink", path = "l", target }));
        Assert.False(File.Exists(Root("l")) || new FileInfo(Root("l")).LinkTarget is not null);
    }

    [Fact]
    public async Task A_link_target_is_judged_from_where_the_folder_really_is_not_through_a_link()
    {
        // "up" is the root itself, reached through a link: "up/l" lives in the root, where ".." is outside.
        File.CreateSymbolicLink(Root("up"), ".");
        Directory.CreateDirectory(Root("deep/er"));
        File.CreateSymbolicLink(Root("deep/er/in"), "../..");
        Assert.Equal("path_escapes_root", await Peer.AskAsync(new { cmd = "symlink", path = "up/l", target = "../x" }));
        Assert.Equal("path_escapes_root", await Peer.AskAsync(new { cmd = "symlink", path = "deep/er/in/l2", target = "../x" }));
        Assert.False(new FileInfo(Root("l")).Exists || new FileInfo(Root("l")).LinkTarget is not null);
        Assert.False(new FileInfo(Root("l2")).LinkTarget is not null);
    }

    [Fact]
    public async Task Symlink_through_a_link_that_leads_out_is_refused()
    {
        Directory.CreateSymbolicLink(Root("out"), Outside.Path);
        Assert.Equal("path_escapes_root", await Peer.AskAsync(new { cmd = "symlink", path = "out/l", target = "x" }));
        Assert.Empty(Directory.GetFileSystemEntries(Outside.Path));
    }

    [Fact]
    public async Task Force_replaces_a_file_or_a_link_never_a_folder_and_never_follows()
    {
        await File.WriteAllTextAsync(Root("f"), "file");
        await File.WriteAllTextAsync(Root("t"), "target");
        Assert.Equal("already_exists", await Peer.AskAsync(new { cmd = "symlink", path = "f", target = "t" }));
        Assert.Equal("ok", await Peer.AskAsync(new { cmd = "symlink", path = "f", target = "t", force = true }));
        Assert.Equal("t", new FileInfo(Root("f")).LinkTarget);

        // A link at the name that points out: replaced, and what it pointed at is untouched.
        var victim = Outside.Combine("v");
        await File.WriteAllTextAsync(victim, "outside");
        File.CreateSymbolicLink(Root("o"), victim);
        Assert.Equal("ok", await Peer.AskAsync(new { cmd = "symlink", path = "o", target = "t", force = true }));
        Assert.Equal("t", new FileInfo(Root("o")).LinkTarget);
        Assert.Equal("outside", await File.ReadAllTextAsync(victim));

        Directory.CreateDirectory(Root("d"));
        Assert.Equal("is_a_directory", await Peer.AskAsync(new { cmd = "symlink", path = "d", target = "t", force = true }));
        Assert.True(Directory.Exists(Root("d")) && new DirectoryInfo(Root("d")).LinkTarget is null);
        Assert.DoesNotContain(Directory.GetFileSystemEntries(Server.Root), e => Path.GetFileName(e).StartsWith(".ferry-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Put_applies_mode_and_mtime_ns_before_the_rename()
    {
        var data = RandomBytes(1000, 4);
        await Peer.SendAsync(new { cmd = "put", id = 1, path = "p.bin", size = data.Length, mode = 0x1ED | 0x800, mtime_ns = SomeTimeNs });
        Assert.Equal("put_ready", await Peer.ReadCodeAsync());
        await Peer.SendAsync(new { cmd = "put_data", id = 1, offset = 0, bodysize = data.Length }, data);
        await Peer.SendAsync(new { cmd = "put_end", id = 1, hash = Hex(data) });
        Assert.Equal("done", await Peer.ReadCodeAsync());
        Assert.Equal((UnixFileMode)0x1ED, File.GetUnixFileMode(Root("p.bin")));
        Assert.Equal(SomeTimeNs / 100 * 100, MtimeNs(Root("p.bin")));
    }

    [Fact]
    public async Task Put_with_both_mtime_and_mtime_ns_or_a_negative_mode_is_refused()
    {
        Assert.Equal("field_invalid", await Peer.AskAsync(new { cmd = "put", id = 1, path = "x", size = 1, mtime = 1, mtime_ns = 1 }));
        Assert.Equal("field_invalid", await Peer.AskAsync(new { cmd = "put", id = 2, path = "x", size = 1, mode = -5 }));
        Assert.Empty(Directory.GetFileSystemEntries(Server.Root));
    }
}
