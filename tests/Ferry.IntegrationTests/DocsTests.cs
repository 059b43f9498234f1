using System.Reflection;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;

namespace Ferry.IntegrationTests;

/// <summary>The documents users rely on name everything the code can produce.</summary>
public class DocsTests
{
    internal static string Repo()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ferry.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Ferry.slnx not found above the test folder.");
    }

    [Fact]
    public void Every_error_code_is_in_docs_errors_md_with_its_number()
    {
        var text = File.ReadAllText(Path.Combine(Repo(), "docs", "errors.md"));
        foreach (var (code, wire) in FerryErrorCodes.All)
            Assert.True(text.Contains($"| `{wire}` | {(int)code} |", StringComparison.Ordinal), $"docs/errors.md lacks {wire} ({(int)code})");
    }

    [Fact]
    public void Every_exit_code_is_in_docs_cli_md_with_its_json_error_code()
    {
        var text = File.ReadAllText(Path.Combine(Repo(), "docs", "cli.md"));
        foreach (var field in typeof(Ferry.Cli.ExitCodes).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral && f.FieldType == typeof(int)))
        {
            var exitCode = (int)field.GetValue(null)!;
            Assert.True(text.Contains($"| {exitCode} | {field.Name} |", StringComparison.Ordinal), $"docs/cli.md lacks exit code {field.Name}");
            if (exitCode != Ferry.Cli.ExitCodes.Success)
                Assert.True(text.Contains($"`{Ferry.Cli.ExitCodes.ErrorCode(exitCode)}`", StringComparison.Ordinal), $"docs/cli.md lacks the --json code of {field.Name}");
        }
    }

    [Fact]
    public void The_error_to_exit_code_table_in_docs_cli_md_matches_the_code()
    {
        var rows = File.ReadAllLines(Path.Combine(Repo(), "docs", "cli.md"))
            .SkipWhile(l => !l.StartsWith("### From error code to exit code", StringComparison.Ordinal))
            .Where(l => l.StartsWith("| `", StringComparison.Ordinal))
            .ToList();
        foreach (var (code, wire) in FerryErrorCodes.All)
        {
            var row = Assert.Single(rows, r => r.Contains($"`{wire}`", StringComparison.Ordinal));
            var exitCode = Ferry.Cli.ExitCodes.For(code);
            Assert.True(row.EndsWith($"| {exitCode} {ExitCodeName(exitCode)} |", StringComparison.Ordinal), $"docs/cli.md maps {wire} otherwise than ExitCodes.For ({exitCode})");
        }
    }

    private static string ExitCodeName(int exitCode) => typeof(Ferry.Cli.ExitCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Single(f => f.IsLiteral && (int)f.GetValue(null)! == exitCode).Name;

    [Fact]
    public void Every_client_command_takes_json_and_every_command_shows_examples()
    {
        var text = File.ReadAllText(Path.Combine(Repo(), "docs", "cli.md"));
        var root = Ferry.Cli.Program.BuildRootCommand(Ferry.Cli.CliEnvironment.Plain);
        Assert.Contains("Examples:", root.Description);
        var notClients = new[] { "serve", "shell", "completion", "user" };
        var commands = root.Subcommands.SelectMany(c => c.Subcommands.Count > 0
            ? c.Subcommands.Select(s => (Name: $"{c.Name} {s.Name}", Command: s, Parent: (System.CommandLine.Command?)c))
            : [(Name: c.Name, Command: c, Parent: null)]);
        foreach (var command in commands)
        {
            Assert.True(command.Command.Description!.Contains("Example", StringComparison.Ordinal), $"'ferry {command.Name} --help' shows no example");
            if (notClients.Contains(command.Name))
                continue;
            var options = command.Command.Options.Concat(command.Parent?.Options ?? []);
            Assert.True(options.Any(o => o.Name == "--json"), $"'ferry {command.Name}' has no --json");
            Assert.True(text.Contains($"`ferry {command.Name}`", StringComparison.Ordinal), $"docs/cli.md does not describe the JSON output of 'ferry {command.Name}'");
        }
    }

    [Fact]
    public void Every_command_name_is_in_docs_protocol_md()
    {
        var text = File.ReadAllText(Path.Combine(Repo(), "docs", "protocol.md"));
        var names = typeof(CommandNames).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).Select(f => (string)f.GetValue(null)!);
        foreach (var name in names)
            Assert.True(text.Contains($"\"cmd\":\"{name}\"", StringComparison.Ordinal) || text.Contains($"`{name}`", StringComparison.Ordinal),
                $"docs/protocol.md never shows the '{name}' frame");
    }
}

/// <summary>docs/reliability.md names real tests and states the figures the tests really use.</summary>
public class ReliabilityDocsTests
{
    private static string Text() => File.ReadAllText(Path.Combine(DocsTests.Repo(), "docs", "reliability.md"));

    [Fact]
    public void Every_test_named_in_docs_reliability_md_exists()
    {
        var named = System.Text.RegularExpressions.Regex.Matches(Text(), @"`([A-Z][A-Za-z]+Tests)(?:\.([A-Za-z0-9_]+))?`")
            .Select(m => (Class: m.Groups[1].Value, Method: m.Groups[2].Value)).Distinct().ToList();
        Assert.True(named.Count > 20, $"only {named.Count} test names found");
        var types = typeof(ReliabilityDocsTests).Assembly.GetTypes().ToLookup(t => t.Name);
        foreach (var (className, method) in named)
        {
            var type = types[className].SingleOrDefault();
            if (type is null && method.Length == 0 && File.Exists(Path.Combine(DocsTests.Repo(), "tests", "Ferry.Protocol.Tests", className + ".cs")))
                continue; // a class of the protocol tests, named without a method
            Assert.True(type is not null, $"docs/reliability.md names {className}, which does not exist");
            if (method.Length > 0)
                Assert.True(type.GetMethod(method) is not null, $"docs/reliability.md names {className}.{method}, which does not exist");
        }
    }

    [Fact]
    public void The_figures_in_docs_reliability_md_match_the_tests()
    {
        var text = Text();
        Assert.Contains($"**{HostileCases.All.Count} hostile inputs**", text, StringComparison.Ordinal);
        Assert.Contains($"**{CrashSafetyTests.KillPoints.Count()} kill points**", text, StringComparison.Ordinal);
        Assert.Contains("**200 clients**", text, StringComparison.Ordinal);
    }
}
