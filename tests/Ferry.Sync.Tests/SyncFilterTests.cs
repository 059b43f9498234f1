using Ferry.Sync.Filtering;
using Ferry.Testing;

namespace Ferry.Sync.Tests;

public class SyncFilterTests
{
    private static Func<string, CancellationToken, Task<IgnoreFile?>> IgnoreFiles(Dictionary<string, string> byFolder) =>
        (folder, _) => Task.FromResult(byFolder.TryGetValue(folder, out var text) ? IgnoreFile.Parse(text) : null);

    private static bool Excluded(SyncFilter filter, Dictionary<string, string> ignoreFiles, string path, bool isDirectory = false) =>
        filter.IsExcludedAsync(path, isDirectory, IgnoreFiles(ignoreFiles)).GetAwaiter().GetResult();

    [Fact]
    public void Gitignore_example_exclude_everything_but_foo_bar()
    {
        // gitignore(5): "exclude everything except directory foo/bar".
        var files = new Dictionary<string, string> { [""] = "/*\n!/foo\n/foo/*\n!/foo/bar\n" };

        Assert.True(Excluded(SyncFilter.NoRules, files, "other.txt"));
        Assert.True(Excluded(SyncFilter.NoRules, files, "other", isDirectory: true));
        Assert.False(Excluded(SyncFilter.NoRules, files, "foo", isDirectory: true));
        Assert.True(Excluded(SyncFilter.NoRules, files, "foo/baz.txt"));
        Assert.False(Excluded(SyncFilter.NoRules, files, "foo/bar", isDirectory: true));
        Assert.False(Excluded(SyncFilter.NoRules, files, "foo/bar/deep/file.txt"));
    }

    [Fact]
    public void Within_an_ignore_file_the_last_match_wins()
    {
        var keep = new Dictionary<string, string> { [""] = "*.log\n!keep.log\n" };
        var drop = new Dictionary<string, string> { [""] = "!keep.log\n*.log\n" };

        Assert.False(Excluded(SyncFilter.NoRules, keep, "keep.log"));
        Assert.True(Excluded(SyncFilter.NoRules, keep, "other.log"));
        Assert.True(Excluded(SyncFilter.NoRules, drop, "keep.log"));
    }

    [Fact]
    public void A_deeper_ignore_file_overrides_a_shallower_one_and_anchors_to_its_folder()
    {
        var files = new Dictionary<string, string>
        {
            [""] = "*.tmp\n",
            ["sub"] = "!x.tmp\n/only-here\n",
        };

        Assert.True(Excluded(SyncFilter.NoRules, files, "x.tmp"));
        Assert.False(Excluded(SyncFilter.NoRules, files, "sub/x.tmp"));
        Assert.False(Excluded(SyncFilter.NoRules, files, "sub/deeper/x.tmp"));
        Assert.True(Excluded(SyncFilter.NoRules, files, "sub/y.tmp"));
        Assert.True(Excluded(SyncFilter.NoRules, files, "sub/only-here"));
        Assert.False(Excluded(SyncFilter.NoRules, files, "sub/deeper/only-here"));
        Assert.False(Excluded(SyncFilter.NoRules, files, "only-here"));
    }

    [Fact]
    public void Command_line_rules_take_precedence_over_ignore_files()
    {
        var files = new Dictionary<string, string> { [""] = "*.tmp\n!keep\n" };
        var filter = new SyncFilter([FilterRule.Include("*.tmp"), FilterRule.Exclude("keep")]);

        Assert.False(Excluded(filter, files, "a.tmp"));
        Assert.True(Excluded(filter, files, "keep"));
    }

    [Fact]
    public void On_the_command_line_the_first_match_wins()
    {
        var includeFirst = new SyncFilter([FilterRule.Include("keep.log"), FilterRule.Exclude("*.log")]);
        var excludeFirst = new SyncFilter([FilterRule.Exclude("*.log"), FilterRule.Include("keep.log")]);
        var none = new Dictionary<string, string>();

        Assert.False(Excluded(includeFirst, none, "keep.log"));
        Assert.True(Excluded(includeFirst, none, "other.log"));
        Assert.True(Excluded(excludeFirst, none, "keep.log"));
        Assert.False(Excluded(excludeFirst, none, "readme"));
    }

    [Fact]
    public void Nothing_below_an_excluded_folder_is_synced()
    {
        var none = new Dictionary<string, string>();
        var folderExcluded = new SyncFilter([FilterRule.Include("build/keep"), FilterRule.Exclude("build/")]);
        var contentsExcluded = new SyncFilter([FilterRule.Include("build/keep"), FilterRule.Exclude("build/*")]);

        Assert.True(Excluded(folderExcluded, none, "build/keep"));
        Assert.False(Excluded(contentsExcluded, none, "build/keep"));
        Assert.True(Excluded(contentsExcluded, none, "build/other"));
        // A folder-only pattern leaves a file of that name alone.
        Assert.False(Excluded(folderExcluded, none, "build"));
    }

    [Fact]
    public void An_exclude_with_a_leading_bang_includes()
    {
        var rule = FilterRule.Exclude("!x");

        Assert.Equal(FilterAction.Include, rule.Action);
        Assert.Equal("--include !x", rule.ToString());
    }

    [Fact]
    public void A_walker_asks_each_folder_scope_about_its_entries()
    {
        var filter = new SyncFilter([FilterRule.Exclude("*.o")]);
        var root = filter.Root(IgnoreFile.Parse("cache/\n"));
        var src = root.EnterFolder("src", IgnoreFile.Parse("generated.c\n"));

        Assert.True(root.IsExcluded("cache", isDirectory: true));
        Assert.False(root.IsExcluded("cache", isDirectory: false));
        Assert.Equal("src", src.FolderPath);
        Assert.True(src.IsExcluded("main.o", false));
        Assert.True(src.IsExcluded("generated.c", false));
        Assert.False(src.IsExcluded("main.c", false));
        Assert.Equal(FilterDecision.NoMatch, src.Decide("main.c", false));
        Assert.Throws<ArgumentException>(() => src.IsExcluded("a/b", false));
    }

    [Fact]
    public async Task Exclude_from_reads_rules_in_order()
    {
        using var folder = new TempDirectory("ferry-sync-filter");
        var path = folder.Combine("rules");
        await File.WriteAllTextAsync(path, "# build output\n\n!important.o\n*.o\nlogs/\n");

        var rules = await FilterRule.ReadExcludeFromAsync(path);
        var filter = new SyncFilter(rules);

        Assert.Equal(["--include !important.o", "--exclude *.o", "--exclude logs/"], rules.Select(r => r.ToString()));
        Assert.False(filter.Root(null).IsExcluded("important.o", false));
        Assert.True(filter.Root(null).IsExcluded("main.o", false));
        Assert.True(filter.Root(null).IsExcluded("logs", true));
    }

    [Fact]
    public async Task Ignore_files_are_read_from_the_tree_but_never_through_a_link()
    {
        using var tree = new TempDirectory("ferry-sync-filter");
        using var outside = new TempDirectory("ferry-sync-filter-outside");
        Directory.CreateDirectory(tree.Combine("sub"));
        Directory.CreateDirectory(tree.Combine("linked"));
        await File.WriteAllTextAsync(tree.Combine(SyncFilter.IgnoreFileName), "*.bak\n");
        await File.WriteAllTextAsync(tree.Combine("sub", SyncFilter.IgnoreFileName), "secret\n");
        await File.WriteAllTextAsync(outside.Combine("rules"), "*\n");
        File.CreateSymbolicLink(tree.Combine("linked", SyncFilter.IgnoreFileName), outside.Combine("rules"));
        var load = SyncFilter.IgnoreFilesUnder(tree.Path);

        Assert.True(await SyncFilter.NoRules.IsExcludedAsync("a.bak", false, load));
        Assert.True(await SyncFilter.NoRules.IsExcludedAsync("sub/secret", false, load));
        Assert.False(await SyncFilter.NoRules.IsExcludedAsync("secret", false, load));
        Assert.False(await SyncFilter.NoRules.IsExcludedAsync("linked/anything", false, load));
        Assert.False(await SyncFilter.NoRules.IsExcludedAsync("missing/folder/file", false, load));
    }

    [Fact]
    public async Task Oversized_ignore_files_are_refused()
    {
        using var folder = new TempDirectory("ferry-sync-filter");
        var path = folder.Combine(SyncFilter.IgnoreFileName);
        await File.WriteAllTextAsync(path, new string('x', IgnoreFile.MaxBytes + 1));

        await Assert.ThrowsAsync<InvalidDataException>(() => IgnoreFile.LoadAsync(path));
        Assert.Throws<InvalidDataException>(() => IgnoreFile.Parse(string.Join('\n', Enumerable.Repeat("x", IgnoreFile.MaxPatterns + 1))));
    }
}
