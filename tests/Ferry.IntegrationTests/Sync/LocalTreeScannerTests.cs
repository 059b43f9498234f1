using System.Diagnostics;
using Ferry.Client.Sync;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;
using Ferry.Sync.Filtering;
using Ferry.Testing;

namespace Ferry.IntegrationTests.Sync;

/// <summary>The local side of a sync listed from real folders: types, modes, nanosecond times, links, filters.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class LocalTreeScannerTests
{
    private static async Task<SyncListing> ScanAsync(string root, params FilterRule[] rules) =>
        await LocalTreeScanner.ScanAsync(root, new SyncFilter(rules), TestTimeouts.Token());

    private static ScanEntry Entry(SyncListing listing, string name) => listing.Entries.Single(e => e.Name == name);

    [Fact]
    public async Task Files_folders_and_links_are_listed_in_tree_order_with_sizes_modes_and_link_targets_never_followed()
    {
        using var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("d", "e"));
        File.WriteAllText(root.Combine("d", "a.txt"), "hello");
        File.WriteAllText(root.Combine("d-x"), "");
        File.SetUnixFileMode(root.Combine("d", "a.txt"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.CreateSymbolicLink(root.Combine("to-d"), "d");
        File.CreateSymbolicLink(root.Combine("dangling"), "../nowhere");

        var listing = await ScanAsync(root.Path);

        Assert.Equal(["d", "d/a.txt", "d/e", "d-x", "dangling", "to-d"], listing.Entries.Select(e => e.Name));
        Assert.Equal(ScanEntryTypes.File, Entry(listing, "d/a.txt").Type);
        Assert.Equal(5, Entry(listing, "d/a.txt").Size);
        Assert.Equal(0x1C0, Entry(listing, "d/a.txt").Mode);
        Assert.Equal(ScanEntryTypes.Directory, Entry(listing, "d/e").Type);
        Assert.Equal(ScanEntryTypes.Link, Entry(listing, "to-d").Type);
        Assert.Equal("d", Entry(listing, "to-d").Target);
        Assert.Null(Entry(listing, "to-d").Mode);
        Assert.Equal("../nowhere", Entry(listing, "dangling").Target);
        Assert.DoesNotContain(listing.Entries, e => e.Name.StartsWith("to-d/", StringComparison.Ordinal)); // not followed
        Assert.Empty(listing.Errors);
    }

    [Fact]
    public async Task Modification_times_are_read_and_set_to_the_nanosecond()
    {
        using var root = new TempDirectory();
        var file = root.Combine("f");
        File.WriteAllText(file, "x");
        const long time = 1_700_000_000_123_456_789;
        LocalEntryStat.SetModifiedTime(file, time);
        Assert.Equal(time, Entry(await ScanAsync(root.Path), "f").ModifiedNs);

        // A link's own time is set, not its target's.
        File.CreateSymbolicLink(root.Combine("l"), "f");
        LocalEntryStat.SetModifiedTime(root.Combine("l"), time + 2);
        var listing = await ScanAsync(root.Path);
        Assert.Equal(time + 2, Entry(listing, "l").ModifiedNs);
        Assert.Equal(time, Entry(listing, "f").ModifiedNs);

        // Before 1970 too.
        LocalEntryStat.SetModifiedTime(file, -1_500_000_000);
        Assert.Equal(-1_500_000_000, Entry(await ScanAsync(root.Path), "f").ModifiedNs);
    }

    [Fact]
    public async Task A_fifo_is_listed_as_other_and_never_opened()
    {
        using var root = new TempDirectory();
        using (var mkfifo = Process.Start("mkfifo", root.Combine("pipe")))
            await mkfifo.WaitForExitAsync(TestTimeouts.Token());
        Assert.True(File.Exists(root.Combine("pipe")) || new FileInfo(root.Combine("pipe")).Exists);

        var listing = await ScanAsync(root.Path); // would hang if it opened the FIFO for reading
        var entry = Entry(listing, "pipe");
        Assert.Equal(ScanEntryTypes.Other, entry.Type);
        var plan = SyncPlanner.Plan(listing.Entries, [], new SyncPlanOptions());
        Assert.Equal("pipe", Assert.Single(plan.Skipped).Path);
        Assert.Empty(plan.Actions);
    }

    [Fact]
    public async Task Set_id_and_sticky_bits_are_not_part_of_the_mode()
    {
        using var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("shared"));
        File.SetUnixFileMode(root.Combine("shared"), (UnixFileMode)0x3FF); // 01777
        Assert.Equal(0x1FF, Entry(await ScanAsync(root.Path), "shared").Mode);
    }

    [Fact]
    public async Task Ferryignore_files_and_command_line_rules_leave_entries_out_and_protect_their_folders()
    {
        using var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("src", "bin"));
        Directory.CreateDirectory(root.Combine("logs"));
        File.WriteAllText(root.Combine(".ferryignore"), "*.log\n!keep.log\n");
        File.WriteAllText(root.Combine("src", ".ferryignore"), "bin/\n");
        File.WriteAllText(root.Combine("src", "main.c"), "int main;");
        File.WriteAllText(root.Combine("src", "bin", "main.o"), "obj");
        File.WriteAllText(root.Combine("logs", "a.log"), "a");
        File.WriteAllText(root.Combine("logs", "keep.log"), "k");
        File.WriteAllText(root.Combine("notes.tmp"), "t");

        var listing = await ScanAsync(root.Path, FilterRule.Exclude("*.tmp"));

        Assert.Equal([".ferryignore", "logs", "logs/keep.log", "src", "src/.ferryignore", "src/main.c"], listing.Entries.Select(e => e.Name));
        Assert.Equal(["logs", "src"], listing.ProtectedFolders.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_first_matching_command_line_rule_wins_over_ferryignore()
    {
        using var root = new TempDirectory();
        File.WriteAllText(root.Combine(".ferryignore"), "*.log\n");
        File.WriteAllText(root.Combine("a.log"), "a");
        File.WriteAllText(root.Combine("b.log"), "b");
        var listing = await ScanAsync(root.Path, FilterRule.Include("a.log"), FilterRule.Exclude(".ferryignore"));
        Assert.Equal(["a.log"], listing.Entries.Select(e => e.Name));
    }

    [Fact]
    public async Task Names_the_server_reserves_are_left_out()
    {
        using var root = new TempDirectory();
        File.WriteAllText(root.Combine(".ferry-part-123"), "partial");
        File.WriteAllText(root.Combine(".ferryignore"), "");
        Assert.Equal([".ferryignore"], (await ScanAsync(root.Path)).Entries.Select(e => e.Name));
    }

    [Fact]
    public async Task A_ferryignore_that_is_a_link_is_not_followed()
    {
        using var root = new TempDirectory();
        using var elsewhere = new TempDirectory();
        File.WriteAllText(elsewhere.Combine("rules"), "*\n");
        File.CreateSymbolicLink(root.Combine(".ferryignore"), elsewhere.Combine("rules"));
        File.WriteAllText(root.Combine("a"), "a");
        Assert.Contains("a", (await ScanAsync(root.Path)).Entries.Select(e => e.Name));
    }

    [Fact]
    public async Task An_oversized_ferryignore_is_a_scan_error_which_stops_delete()
    {
        using var root = new TempDirectory();
        File.WriteAllText(root.Combine(".ferryignore"), new string('#', IgnoreFile.MaxBytes + 1));
        var listing = await ScanAsync(root.Path);
        Assert.Equal(".ferryignore", Assert.Single(listing.Errors).Path);
    }

    [Fact]
    public async Task The_remote_listing_is_filtered_like_the_local_one()
    {
        using var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("src"));
        File.WriteAllText(root.Combine("src", ".ferryignore"), "*.o\n");
        ScanEntry[] remote =
        [
            new() { Name = "src", Type = ScanEntryTypes.Directory },
            new() { Name = "src/a.o", Type = ScanEntryTypes.File },
            new() { Name = "src/a.c", Type = ScanEntryTypes.File },
            new() { Name = "tmp", Type = ScanEntryTypes.Directory },
            new() { Name = "tmp/x", Type = ScanEntryTypes.File },
        ];
        var filtered = await ListingFilter.ApplyAsync(remote, new SyncFilter([FilterRule.Exclude("tmp/")]),
            SyncFilter.IgnoreFilesUnder(root.Path), TestTimeouts.Token());
        Assert.Equal(["src", "src/a.c"], filtered.Entries.Select(e => e.Name));
        Assert.Equal(["src"], filtered.ProtectedFolders);
    }

    // By name: the wire records are internal to the Ferry assemblies, so a public theory cannot take them as parameters.
    private static readonly Dictionary<string, ScanEntry[]> s_hostileScans = new()
    {
        { "escape", [new() { Name = "../x", Type = ScanEntryTypes.File }] },
        { "absolute", [new() { Name = "/etc/passwd", Type = ScanEntryTypes.File }] },
        { "dot", [new() { Name = "a/./b", Type = ScanEntryTypes.File }] },
        { "empty component", [new() { Name = "a//b", Type = ScanEntryTypes.File }] },
        { "nul", [new() { Name = "a\0b", Type = ScanEntryTypes.File }] },
        { "backslash", [new() { Name = "..\\x", Type = ScanEntryTypes.File }] },
        { "root entry", [new() { Name = "", Type = ScanEntryTypes.File }] },
        { "twice", [new() { Name = "a", Type = ScanEntryTypes.File }, new() { Name = "a", Type = ScanEntryTypes.Directory }] },
        { "under a link", [new() { Name = "l", Type = ScanEntryTypes.Link, Target = "/etc" }, new() { Name = "l/passwd", Type = ScanEntryTypes.File }] },
        { "under a file", [new() { Name = "f", Type = ScanEntryTypes.File }, new() { Name = "f/x", Type = ScanEntryTypes.File }] },
        { "orphan", [new() { Name = "missing/x", Type = ScanEntryTypes.File }] },
        { "negative size", [new() { Name = "a", Type = ScanEntryTypes.File, Size = -1 }] },
        { "mode too large", [new() { Name = "a", Type = ScanEntryTypes.File, Mode = 0x10000 }] },
        { "negative mode", [new() { Name = "a", Type = ScanEntryTypes.File, Mode = -1 }] },
        { "unknown type", [new() { Name = "a", Type = "socket" }] },
        { "link without target", [new() { Name = "a", Type = ScanEntryTypes.Link }] },
    };

    public static TheoryData<string> HostileScans => new(s_hostileScans.Keys);

    [Theory]
    [MemberData(nameof(HostileScans))]
    public void A_scan_that_lies_is_refused_before_anything_acts_on_it(string why)
    {
        var entries = s_hostileScans[why];
        var refused = Assert.Throws<FerryException>(() => ScanValidator.Validate(entries));
        Assert.Equal(FerryErrorCode.FieldInvalid, refused.Code);
        Assert.False(string.IsNullOrEmpty(why));
    }

    [Fact]
    public void A_well_formed_scan_passes()
    {
        ScanValidator.Validate([
            new() { Name = "d", Type = ScanEntryTypes.Directory, Mode = 0x1ED },
            new() { Name = "d/f", Type = ScanEntryTypes.File, Size = 3, Mode = 0x1A4 },
            new() { Name = "d/l", Type = ScanEntryTypes.Link, Target = "f" },
            new() { Name = "p", Type = ScanEntryTypes.Other },
        ]);
    }

    [Fact]
    public void One_tree_seen_from_inside_itself_is_found()
    {
        ScanEntry[] inner = [new() { Name = "a", Type = ScanEntryTypes.File, Size = 3, ModifiedNs = 5 }, new() { Name = "d", Type = ScanEntryTypes.Directory, ModifiedNs = 6 }];
        ScanEntry[] outer =
        [
            new() { Name = "x", Type = ScanEntryTypes.File, Size = 1, ModifiedNs = 1 },
            new() { Name = "backup", Type = ScanEntryTypes.Directory, ModifiedNs = 2 },
            .. inner.Select(e => e with { Name = "backup/" + e.Name }),
        ];
        Assert.Equal("backup", NestedTreeCheck.FindNested(outer, inner));
        Assert.Equal("backup", NestedTreeCheck.FindNested(inner, outer));
        Assert.Null(NestedTreeCheck.FindNested(inner, inner)); // a sync that has converged
        Assert.Null(NestedTreeCheck.FindNested(outer, [inner[0] with { ModifiedNs = 4 }, inner[1]]));
    }
}
