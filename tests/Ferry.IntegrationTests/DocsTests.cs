using System.Reflection;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;

namespace Ferry.IntegrationTests;

/// <summary>The documents users rely on name everything the code can produce.</summary>
public class DocsTests
{
    private static string Repo()
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
