using System.CommandLine;
using System.CommandLine.Parsing;
using Ferry.Cli.Commands;
using Ferry.Cli.Rendering;

namespace Ferry.Cli;

public static class Program
{
    public static Task<int> Main(string[] args)
    {
        SystemTrustStore.MayLeaveUnloaded = true;
        return RunAsync(args, new InvocationConfiguration(), CliEnvironment.Detect());
    }

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
            var json = parse.Tokens.Any(t => t is { Type: TokenType.Option, Value: "--json" }) ? new JsonLines(configuration.Output) : null;
            foreach (var parseError in parse.Errors)
            {
                await configuration.Error.WriteLineAsync($"ferry: {parseError.Message}").ConfigureAwait(false);
                json?.WriteError(ExitCodes.ErrorCode(ExitCodes.Usage), ExitCodes.Usage, parseError.Message);
            }
            var command = parse.CommandResult.Command;
            var helpFor = command is RootCommand ? "ferry --help" : $"ferry {string.Join(' ', CommandPath(parse.CommandResult))} --help";
            await configuration.Error.WriteLineAsync($"Run '{helpFor}' for usage and examples.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        // Graceful shutdown of 'serve' needs more than the default 2 s after Ctrl-C. The shell handles Ctrl-C itself: it
        // interrupts the running command, not the shell.
        configuration.ProcessTerminationTimeout = parse.CommandResult.Command.Name == ShellCommand.Name ? null : TimeSpan.FromSeconds(60);
        return await parse.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The names from below the root down to <paramref name="result"/>'s command ("user", "add").</summary>
    private static IEnumerable<string> CommandPath(CommandResult result)
    {
        var names = new Stack<string>();
        for (SymbolResult? r = result; r is CommandResult { Parent: not null } c; r = c.Parent)
            names.Push(c.Command.Name);
        return names;
    }

    public static RootCommand BuildRootCommand() => BuildRootCommand(CliEnvironment.Detect());

    public static RootCommand BuildRootCommand(CliEnvironment environment)
    {
        var root = new RootCommand("Ferry moves files and runs commands between machines over framed TCP.\n\n"
            + "Examples:\n"
            + "  ferry serve --allow-exec                              run a server (TLS, login required)\n"
            + "  ferry user add alice --allow read,write,exec          add a user on the server machine\n"
            + "  ferry login --server 127.0.0.1:7447 --user alice      store alice's key on the client\n"
            + "  ferry put report.pdf docs/                            upload\n"
            + "  ferry get docs/report.pdf                             download\n"
            + "  ferry exec -- \"uname -a\"                             run a command on the server\n"
            + "  source <(ferry completion bash)                       tab completion\n\n"
            + "Every command takes --help. Exit codes and --json output: docs/cli.md.")
        {
            ServeCommand.Create(),
            EchoCommand.Create(),
            PutCommand.Create(environment),
            GetCommand.Create(environment),
            SyncCommand.Create(environment),
            ListCommand.Create(environment),
            ManagementCommands.Stat(),
            ManagementCommands.Mkdir(),
            ManagementCommands.Remove(),
            ManagementCommands.Move(),
            ExecCommand.Create(environment),
            ShellCommand.Create(environment),
            LoginCommand.Create(),
            UserCommand.Create(),
            CompletionCommand.Create(),
        };
        ClientConnector.AddTo(root); // --plain, --user, --trust-ca for every client command
        return root;
    }
}
