using Ferry.Cli;
using Ferry.Cli.Commands;
using Ferry.Sync.Filtering;
using Ferry.Testing;

namespace Ferry.IntegrationTests.Sync;

/// <summary>The filter options of 'ferry sync' keep their order across --include, --exclude and --exclude-from.</summary>
public class SyncFilterArgumentsTests
{
    private static async Task<List<FilterRule>> RulesAsync(params string[] args)
    {
        var parse = Program.BuildRootCommand(CliEnvironment.Plain).Parse(["sync", .. args, "./a", ":b"]);
        Assert.Empty(parse.Errors);
        return await SyncFilterArguments.ReadAsync(parse.Tokens, TestTimeouts.Token());
    }

    [Fact]
    public async Task Rules_come_in_the_order_typed_across_the_three_options()
    {
        using var folder = new TempDirectory();
        var file = folder.Combine("rules");
        File.WriteAllText(file, "# comment\nbuild/\n!build/keep\n");

        var rules = await RulesAsync("--include", "keep.log", "--exclude=*.log", "--exclude-from", file, "--exclude", "tmp");

        Assert.Equal(["--include keep.log", "--exclude *.log", "--exclude build/", "--include !build/keep", "--exclude tmp"],
            rules.Select(r => r.ToString()));
        var filter = new SyncFilter(rules);
        Assert.Equal(FilterDecision.Included, filter.EvaluateRules("keep.log", isDirectory: false));
        Assert.Equal(FilterDecision.Excluded, filter.EvaluateRules("other.log", isDirectory: false));
    }

    [Fact]
    public async Task The_reverse_order_drops_the_file_the_include_named()
    {
        var rules = await RulesAsync("--exclude", "*.log", "--include", "keep.log");
        Assert.Equal(FilterDecision.Excluded, new SyncFilter(rules).EvaluateRules("keep.log", isDirectory: false));
    }

    [Fact]
    public async Task Paths_that_only_look_like_options_are_not_rules()
    {
        Assert.Empty(await RulesAsync("--delete", "-n"));
    }
}
