using Ferry.Client.Sync;
using Ferry.Protocol.Messages;

namespace Ferry.IntegrationTests.Sync;

/// <summary>The sync planner is pure: two listings and options in, an ordered plan out.</summary>
public class SyncPlannerTests
{
    private const long T = 1_764_000_000_123_456_789;

    private static ScanEntry File(string name, long size, long mtime = T, int? mode = 420, string? hash = null) =>
        new() { Name = name, Type = ScanEntryTypes.File, Size = size, ModifiedNs = mtime, Mode = mode, Hash = hash };

    private static ScanEntry Dir(string name, long mtime = T, int? mode = 493) =>
        new() { Name = name, Type = ScanEntryTypes.Directory, ModifiedNs = mtime, Mode = mode };

    private static ScanEntry Link(string name, string target) =>
        new() { Name = name, Type = ScanEntryTypes.Link, ModifiedNs = T, Target = target };

    private static ScanEntry Other(string name) => new() { Name = name, Type = ScanEntryTypes.Other, ModifiedNs = T };

    private static SyncPlan Plan(ScanEntry[] source, ScanEntry[] destination, SyncPlanOptions? options = null) =>
        SyncPlanner.Plan(source, destination, options ?? new SyncPlanOptions());

    private static string[] Lines(SyncPlan plan) => [.. plan.Actions.Where(a => a.Itemized).Select(a => a.Line)];

    [Fact]
    public void Identical_listings_plan_nothing()
    {
        ScanEntry[] tree = [Dir("d"), File("d/a", 5), Link("l", "d/a"), File("b", 0)];
        var plan = Plan(tree, tree, new SyncPlanOptions { Delete = true });
        Assert.Empty(plan.Actions);
        Assert.Equal(2, plan.FilesChecked);
        Assert.Equal(5, plan.TotalSize);
    }

    [Fact]
    public void A_new_file_is_sent_whole_with_its_mode_and_time_and_no_basis()
    {
        var plan = Plan([File("a.txt", 10, mode: 0x1ED)], []);
        var action = Assert.Single(plan.Actions);
        Assert.Equal(SyncActionKind.TransferFile, action.Kind);
        Assert.Equal(TransferReason.New, action.Reason);
        Assert.Equal(0x1ED, action.Mode);
        Assert.Equal(T, action.ModifiedNs);
        Assert.Empty(action.Basis);
        Assert.Equal("new     a.txt", action.Line);
        Assert.Equal(10, plan.TransferSize);
    }

    [Fact]
    public void A_changed_size_sends_the_file_with_its_old_version_as_basis()
    {
        var plan = Plan([File("a", 200)], [File("a", 100)]);
        var action = Assert.Single(plan.Actions);
        Assert.Equal(TransferReason.Changed, action.Reason);
        Assert.Equal(["a"], action.Basis);
        Assert.Equal(100, action.BasisSize);
        Assert.Equal("changed a", action.Line);
    }

    [Fact]
    public void A_modification_time_one_nanosecond_apart_is_a_change()
    {
        var plan = Plan([File("a", 100, T + 1)], [File("a", 100, T)]);
        Assert.Equal(TransferReason.Changed, Assert.Single(plan.Actions).Reason);
    }

    [Fact]
    public void A_side_with_whole_second_times_matches_on_the_second_only()
    {
        var whole = T / 1_000_000_000 * 1_000_000_000;
        Assert.Empty(Plan([File("a", 100, T)], [File("a", 100, whole)]).Actions);
        Assert.Single(Plan([File("a", 100, T)], [File("a", 100, whole + 1_000_000_000)]).Actions);
        Assert.True(SyncPlanner.SameTime(-1_500_000_000, -2_000_000_000)); // before 1970: floor, not truncation
        Assert.False(SyncPlanner.SameTime(-500_000_000, 0));
    }

    [Fact]
    public void With_checksum_an_equal_hash_and_another_time_sets_the_time_and_sends_nothing()
    {
        var plan = Plan([File("a", 100, T + 5, hash: "AB")], [File("a", 100, T, hash: "ab")], new SyncPlanOptions { Checksum = true });
        var action = Assert.Single(plan.Actions);
        Assert.Equal(SyncActionKind.SetAttributes, action.Kind);
        Assert.Equal(T + 5, action.ModifiedNs);
        Assert.Null(action.Mode);
        Assert.Equal("attrs   a (time)", action.Line);
        Assert.Equal(0, plan.TransferSize);
    }

    [Fact]
    public void With_checksum_a_different_hash_of_the_same_size_and_time_is_sent()
    {
        var plan = Plan([File("a", 100, hash: "01")], [File("a", 100, hash: "02")], new SyncPlanOptions { Checksum = true });
        Assert.Equal(TransferReason.Changed, Assert.Single(plan.Actions).Reason);
        // Without --checksum the hashes are not looked at.
        Assert.Empty(Plan([File("a", 100, hash: "01")], [File("a", 100, hash: "02")]).Actions);
    }

    [Fact]
    public void A_mode_only_change_sets_the_mode_and_sends_nothing()
    {
        var plan = Plan([File("run.sh", 10, mode: 0x1ED)], [File("run.sh", 10, mode: 0x1A4)]);
        var action = Assert.Single(plan.Actions);
        Assert.Equal(SyncActionKind.SetAttributes, action.Kind);
        Assert.Equal(0x1ED, action.Mode);
        Assert.Null(action.ModifiedNs);
        Assert.Equal("attrs   run.sh (mode)", action.Line);
    }

    [Fact]
    public void Set_id_and_sticky_bits_are_not_compared_and_a_side_without_modes_is_not_a_change()
    {
        Assert.Empty(Plan([File("a", 1, mode: 0x9ED)], [File("a", 1, mode: 0x1ED)]).Actions);
        Assert.Empty(Plan([File("a", 1, mode: null)], [File("a", 1, mode: 0x1ED)]).Actions);
    }

    [Fact]
    public void Links_are_created_when_missing_or_pointing_elsewhere_and_left_when_equal()
    {
        var plan = Plan([Link("l1", "a"), Link("l2", "b"), Link("l3", "c"), Link("l4", "d")],
            [Link("l1", "a"), Link("l2", "x"), File("l3", 4)]);
        Assert.Equal(["link    l2 -> b", "link    l3 -> c", "link    l4 -> d"], Lines(plan));
    }

    [Fact]
    public void Folders_are_created_parents_first_and_get_their_mode_and_time_last_deepest_first()
    {
        var plan = Plan([Dir("a", T + 1), Dir("a/b", T + 2), Dir("a/b/c", T + 3), File("a/b/f", 1)], []);
        Assert.Equal(["mkdir   a/", "mkdir   a/b/", "mkdir   a/b/c/", "new     a/b/f"], Lines(plan));
        var silent = plan.Actions.Where(a => !a.Itemized).ToList();
        Assert.Equal(["a/b/c", "a/b", "a"], silent.Select(a => a.Path));
        Assert.All(silent, a => Assert.Equal(SyncActionKind.SetAttributes, a.Kind));
        Assert.Equal(T + 3, silent[0].ModifiedNs);
        Assert.Same(plan.Actions[^1], silent[^1]); // after every file: writing into a folder changes its time
    }

    [Fact]
    public void A_folder_whose_entries_change_gets_its_time_back_silently_at_the_end()
    {
        var plan = Plan([Dir("d"), File("d/a", 2), Dir("e"), File("e/same", 1)], [Dir("d"), File("d/a", 1), File("d/extra", 1), Dir("e"), File("e/same", 1)],
            new SyncPlanOptions { Delete = true });
        Assert.Equal(["changed d/a", "deleted d/extra"], Lines(plan));
        var last = plan.Actions[^1];
        Assert.Equal(SyncActionKind.SetAttributes, last.Kind);
        Assert.Equal("d", last.Path);
        Assert.Equal(T, last.ModifiedNs);
        Assert.False(last.Itemized);
        Assert.DoesNotContain(plan.Actions, a => a.Path == "e");
    }

    [Fact]
    public void A_missing_destination_root_is_created_first()
    {
        var plan = Plan([File("a", 1)], [], new SyncPlanOptions { DestinationMissing = true });
        Assert.Equal(["mkdir   ./", "new     a"], Lines(plan));
    }

    [Fact]
    public void A_folder_whose_time_differs_gets_an_attribute_line()
    {
        var plan = Plan([Dir("d", T + 1), File("d/a", 1)], [Dir("d", T), File("d/a", 1)]);
        Assert.Equal(["attrs   d/ (time)"], Lines(plan));
    }

    [Fact]
    public void A_file_or_link_where_a_folder_goes_is_replaced_by_the_folder()
    {
        var plan = Plan([Dir("d"), File("d/a", 1)], [File("d", 3)]);
        var mkdir = plan.Actions[0];
        Assert.Equal(SyncActionKind.MakeDirectory, mkdir.Kind);
        Assert.True(mkdir.ReplacesEntry);
        Assert.Equal(["mkdir   d/", "new     d/a"], Lines(plan));
    }

    [Fact]
    public void A_folder_where_a_file_goes_is_a_problem_and_stops_delete()
    {
        var plan = Plan([File("x", 1)], [Dir("x"), File("x/inner", 1), File("extra", 1)], new SyncPlanOptions { Delete = true });
        var problem = Assert.Single(plan.Problems);
        Assert.Equal("x", problem.Path);
        Assert.Equal("is_a_directory", problem.Code);
        Assert.DoesNotContain(plan.Actions, a => a.Kind == SyncActionKind.Delete);
        Assert.True(plan.DeletesBlocked);
        Assert.False(Plan([File("x", 1)], [Dir("x")]).DeletesBlocked); // no --delete: nothing was blocked
    }

    [Fact]
    public void Fifos_sockets_and_devices_are_skipped_with_a_note_and_not_counted()
    {
        var plan = Plan([Other("pipe"), File("a", 1)], []);
        Assert.Equal("pipe", Assert.Single(plan.Skipped).Path);
        Assert.Equal(["new     a"], Lines(plan));
        Assert.Equal(1, plan.FilesChecked);
    }

    [Fact]
    public void Destination_only_entries_are_deleted_only_with_delete()
    {
        ScanEntry[] destination = [File("old", 1), Dir("gone"), File("gone/a", 1), Link("gone/l", "a")];
        Assert.Empty(Plan([], destination).Actions);
        var plan = Plan([], destination, new SyncPlanOptions { Delete = true });
        Assert.Equal(["deleted gone/", "deleted gone/a", "deleted gone/l", "deleted old"], Lines(plan));
        Assert.False(plan.Actions[0].RemovedWithParent);
        Assert.True(plan.Actions[1].RemovedWithParent);
        Assert.True(plan.Actions[0].IsDirectory);
    }

    [Fact]
    public void Deletes_come_after_every_transfer_link_and_attribute_change()
    {
        var plan = Plan([File("a", 1), Link("l", "a"), File("m", 1, mode: 0x1C0)], [File("z", 9), File("m", 1, mode: 0x1A4)], new SyncPlanOptions { Delete = true });
        Assert.Equal([SyncActionKind.TransferFile, SyncActionKind.CreateLink, SyncActionKind.SetAttributes, SyncActionKind.Delete],
            plan.Actions.Select(a => a.Kind));
    }

    [Fact]
    public void A_folder_holding_excluded_entries_is_never_deleted_but_its_listed_contents_are()
    {
        var plan = Plan([], [Dir("cache"), File("cache/listed", 1)], new SyncPlanOptions
        {
            Delete = true,
            ProtectedFolders = new HashSet<string>(["cache"], StringComparer.Ordinal),
        });
        var action = Assert.Single(plan.Actions);
        Assert.Equal("cache/listed", action.Path);
        Assert.False(action.RemovedWithParent);
    }

    [Fact]
    public void An_entry_the_filter_left_out_of_the_destination_listing_is_neither_changed_nor_deleted()
    {
        // The engine filters both listings; an excluded destination file is simply absent from the planner's input.
        var plan = Plan([File("keep", 1)], [File("keep", 1)], new SyncPlanOptions { Delete = true });
        Assert.Empty(plan.Actions);
    }

    [Fact]
    public void Max_delete_refuses_every_delete_when_more_would_go()
    {
        ScanEntry[] destination = [File("a", 1), File("b", 1), File("c", 1)];
        var refused = Plan([File("new", 1)], destination, new SyncPlanOptions { Delete = true, MaxDelete = 2 });
        Assert.Equal(3, refused.DeletesRefused);
        Assert.Equal(["new     new"], Lines(refused));
        var allowed = Plan([], destination, new SyncPlanOptions { Delete = true, MaxDelete = 3 });
        Assert.Null(allowed.DeletesRefused);
        Assert.Equal(3, allowed.Actions.Count);
        var zero = Plan([], destination, new SyncPlanOptions { Delete = true, MaxDelete = 0 });
        Assert.Equal(3, zero.DeletesRefused);
        Assert.Empty(zero.Actions);
    }

    [Fact]
    public void A_renamed_file_gets_the_destination_only_file_of_the_same_size_as_basis()
    {
        var plan = Plan([File("new-name.bin", 5000), File("other.bin", 7)], [File("old-name.bin", 5000), File("unrelated", 6)], new SyncPlanOptions { Delete = true });
        var renamed = plan.Actions.Single(a => a.Path == "new-name.bin");
        Assert.Equal(["old-name.bin"], renamed.Basis);
        Assert.Equal(5000, renamed.BasisSize);
        Assert.Empty(plan.Actions.Single(a => a.Path == "other.bin").Basis);
        // The old name is deleted after the transfer that reuses it.
        Assert.True(plan.Actions.ToList().FindIndex(a => a.Path == "old-name.bin") > plan.Actions.ToList().IndexOf(renamed));
    }

    [Fact]
    public void Rename_pairing_uses_hashes_when_both_are_known_and_each_basis_once()
    {
        var plan = Plan([File("b1", 100, hash: "22"), File("b2", 100, hash: "11"), File("b3", 100)],
            [File("a1", 100, hash: "11"), File("a2", 100, hash: "22")], new SyncPlanOptions { Checksum = true });
        Assert.Equal(["a2"], plan.Actions.Single(a => a.Path == "b1").Basis);
        Assert.Equal(["a1"], plan.Actions.Single(a => a.Path == "b2").Basis);
        Assert.Empty(plan.Actions.Single(a => a.Path == "b3").Basis); // both candidates taken
        // Empty files share nothing: never paired.
        Assert.Empty(Assert.Single(Plan([File("e", 0)], [File("f", 0)]).Actions).Basis);
    }

    [Fact]
    public void The_plan_is_the_same_whatever_order_the_listings_come_in()
    {
        ScanEntry[] source = [Dir("b"), File("b/x", 3), File("a-b", 1), Dir("a"), File("a/b", 2), Link("c", "a"), File("a/c", 4, T + 9)];
        ScanEntry[] destination = [File("a/c", 4), Dir("a"), File("zz", 3), Dir("old"), File("old/f", 8)];
        var options = new SyncPlanOptions { Delete = true };
        var expected = Lines(Plan(source, destination, options));
        Assert.Equal(["mkdir   b/", "new     a/b", "changed a/c", "new     a-b", "new     b/x", "link    c -> a", "deleted old/", "deleted old/f", "deleted zz"], expected);
        var random = new Random(7);
        for (var i = 0; i < 20; i++)
        {
            var shuffledSource = source.OrderBy(_ => random.Next()).ToArray();
            var shuffledDestination = destination.OrderBy(_ => random.Next()).ToArray();
            Assert.Equal(expected, Lines(Plan(shuffledSource, shuffledDestination, options)));
        }
    }

    [Fact]
    public void Tree_order_puts_a_folder_right_before_its_contents()
    {
        string[] names = ["a-b", "a/b", "a", "a/b/c", "a.txt", "b"];
        Assert.Equal(["a", "a/b", "a/b/c", "a-b", "a.txt", "b"], names.Order(SyncPaths.TreeOrder));
    }

    [Fact]
    public void A_listing_that_names_a_path_twice_is_refused()
    {
        Assert.Throws<ArgumentException>(() => Plan([File("a", 1), File("a", 2)], []));
    }
}
