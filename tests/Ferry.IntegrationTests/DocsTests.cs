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
    public void Every_exit_code_is_in_docs_errors_md()
    {
        var text = File.ReadAllText(Path.Combine(Repo(), "docs", "errors.md"));
        foreach (var field in typeof(Ferry.Cli.ExitCodes).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral))
            Assert.True(text.Contains($"| {field.GetValue(null)} | {field.Name} |", StringComparison.Ordinal), $"docs/errors.md lacks exit code {field.Name}");
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
