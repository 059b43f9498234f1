using System.CommandLine;
using Ferry.Client;
using Ferry.Cli.Rendering;

namespace Ferry.Cli.Commands;

/// <summary>Options shared by the client commands.</summary>
internal static class CommonOptions
{
    public static Option<string> Server() => new("--server", "-s")
    {
        Description = "Server address as HOST:PORT (IPv6 as [::1]:PORT).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FERRY_SERVER") ?? $"127.0.0.1:{ServerAddress.DefaultPort}",
    };

    public static Option<bool> Json() => new("--json")
    {
        Description = "Print results as JSON, one object per line on stdout; a failure adds an 'error' object with its stable code (docs/cli.md).",
    };

    /// <summary>
    /// Runs a client action with uniform error reporting: one plain sentence on stderr and a documented exit code, and
    /// with <paramref name="json"/> also an error object on stdout.
    /// </summary>
    public static async Task<int> RunClientAsync(ParseResult parse, Option<string> serverOption, Func<ServerAddress, Task<int>> action, Option<bool>? json = null)
    {
        var text = parse.GetValue(serverOption)!;
        if (!ServerAddress.TryParse(text, out var address, out var problem))
            return await FailAsync(parse, json, ExitCodes.Usage, ExitCodes.ErrorCode(ExitCodes.Usage), $"--server: {problem}").ConfigureAwait(false);
        try
        {
            return await action(address.Value).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            var (code, message) = ExitCodes.Describe(ex, address.Value.ToString());
            return await FailAsync(parse, json, code, ExitCodes.ErrorCode(ex), message).ConfigureAwait(false);
        }
    }

    /// <summary>Reports a failure found by the command itself: the sentence on stderr, and the error object with --json.</summary>
    public static async Task<int> FailAsync(ParseResult parse, Option<bool>? json, int exitCode, string errorCode, string message)
    {
        await parse.InvocationConfiguration.Error.WriteLineAsync($"ferry: {message}").ConfigureAwait(false);
        if (json is not null && parse.GetValue(json))
            new JsonLines(parse.InvocationConfiguration.Output).WriteError(errorCode, exitCode, message);
        return exitCode;
    }

    /// <summary>The --json writer when the option is on, else null.</summary>
    public static JsonLines? JsonOutput(ParseResult parse, Option<bool> json) =>
        parse.GetValue(json) ? new JsonLines(parse.InvocationConfiguration.Output) : null;
}
