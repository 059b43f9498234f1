using System.CommandLine;
using Ferry.Cli.Commands;

namespace Ferry.Cli;

public static class Program
{
    public static Task<int> Main(string[] args) => RunAsync(args, new InvocationConfiguration(), CliEnvironment.Detect());

    /// <summary>Entry point that tests call in-process with their own output writers (plain output, no terminal).</summary>
    public static Task<int> RunAsync(string[] args, InvocationConfiguration configuration, CancellationToken cancellationToken = default) =>
        RunAsync(args, configuration, CliEnvironment.Plain, cancellationToken);

    /// <summary>Entry point with an explicit terminal and clock (tests pass a Spectre <c>TestConsole</c>).</summary>
    public static async Task<int> RunAsync(string[] args, InvocationConfiguration configuration, CliEnvironment environment, CancellationToken cancellationToken = default)
    {
        var root = BuildRootCommand(environment);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not System.CommandLine.Help.HelpAction)
        {
            foreach (var parseError in parse.Errors)
                await configuration.Error.WriteLineAsync($"ferry: {parseError.Message}").ConfigureAwait(false);
            await configuration.Error.WriteLineAsync("Run 'ferry --help' for usage.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        // Graceful shutdown of 'serve' needs more than the default 2 s after Ctrl-C. The shell handles Ctrl-C itself: it
        // interrupts the running command, not the shell.
        configuration.ProcessTerminationTimeout = parse.CommandResult.Command.Name == ShellCommand.Name ? null : TimeSpan.FromSeconds(60);
        return await parse.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
    }

    public static RootCommand BuildRootCommand() => BuildRootCommand(CliEnvironment.Detect());

    public static RootCommand BuildRootCommand(CliEnvironment environment)
    {
        var root = new RootCommand("Ferry moves files and runs commands between machines over framed TCP.")
        {
            ServeCommand.Create(),
            EchoCommand.Create(),
            PutCommand.Create(environment),
            GetCommand.Create(environment),
            ListCommand.Create(environment),
            ManagementCommands.Stat(),
            ManagementCommands.Mkdir(),
            ManagementCommands.Remove(),
            ManagementCommands.Move(),
            ExecCommand.Create(environment),
            ShellCommand.Create(environment),
            LoginCommand.Create(),
            UserCommand.Create(),
        };
        ClientConnector.AddTo(root); // --plain, --user, --trust-ca for every client command
        return root;
    }
}
