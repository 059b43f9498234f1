using System.CommandLine;
using Ferry.Cli.Commands;

namespace Ferry.Cli;

public static class Program
{
    public static Task<int> Main(string[] args) => RunAsync(args, new InvocationConfiguration());

    /// <summary>Entry point that tests call in-process with their own output writers.</summary>
    public static async Task<int> RunAsync(string[] args, InvocationConfiguration configuration, CancellationToken cancellationToken = default)
    {
        var root = BuildRootCommand();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not System.CommandLine.Help.HelpAction)
        {
            foreach (var parseError in parse.Errors)
                await configuration.Error.WriteLineAsync($"ferry: {parseError.Message}").ConfigureAwait(false);
            await configuration.Error.WriteLineAsync("Run 'ferry --help' for usage.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        // Graceful shutdown of 'serve' needs more than the default 2 s after Ctrl-C.
        configuration.ProcessTerminationTimeout = TimeSpan.FromSeconds(60);
        return await parse.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
    }

    public static RootCommand BuildRootCommand() => new("Ferry moves files and runs commands between machines over framed TCP.")
    {
        ServeCommand.Create(),
        EchoCommand.Create(),
    };
}
