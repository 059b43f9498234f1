using System.CommandLine;
using System.Text.Json;
using Ferry.Cli;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>Runs the ferry command line in-process, as a user would type it, with captured stdout and stderr (plain mode: no terminal).</summary>
internal static class Cli
{
    public static async Task<CliResult> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await Program.RunAsync(args, new InvocationConfiguration { Output = output, Error = error }, TestTimeouts.Token());
        return new CliResult(code, output.ToString(), error.ToString());
    }
}

internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public void AssertSuccess() => Assert.True(ExitCode == 0, $"exit code {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}");

    /// <summary>The stdout lines parsed as JSON (throws if any line is not JSON).</summary>
    public IReadOnlyList<JsonElement> JsonLines() => Stdout
        .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(line => JsonDocument.Parse(line).RootElement.Clone())
        .ToList();
}
