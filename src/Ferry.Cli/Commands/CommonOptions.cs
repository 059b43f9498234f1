using System.CommandLine;
using Ferry.Client;

namespace Ferry.Cli.Commands;

/// <summary>Options shared by the client commands.</summary>
internal static class CommonOptions
{
    public static Option<string> Server() => new("--server", "-s")
    {
        Description = "Server address as HOST:PORT (IPv6 as [::1]:PORT).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FERRY_SERVER") ?? $"127.0.0.1:{ServerAddress.DefaultPort}",
    };

    /// <summary>Runs a client action with uniform error reporting: one plain sentence on stderr, a documented exit code.</summary>
    public static async Task<int> RunClientAsync(ParseResult parse, Option<string> serverOption, Func<ServerAddress, Task<int>> action)
    {
        var text = parse.GetValue(serverOption)!;
        var error = parse.InvocationConfiguration.Error;
        if (!ServerAddress.TryParse(text, out var address, out var problem))
        {
            await error.WriteLineAsync($"ferry: {problem}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        try
        {
            return await action(address.Value).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            var (code, message) = ExitCodes.Describe(ex, address.Value.ToString());
            await error.WriteLineAsync($"ferry: {message}").ConfigureAwait(false);
            return code;
        }
    }
}
