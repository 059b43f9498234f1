using System.CommandLine;
using Ferry.Cli.Shell;

namespace Ferry.Cli.Commands;

/// <summary><c>ferry shell</c>: an interactive remote shell over one connection (see <see cref="ShellSession"/>).</summary>
internal static class ShellCommand
{
    public const string Name = "shell";

    public static Command Create(CliEnvironment environment)
    {
        var server = CommonOptions.Server();
        var noTty = new Option<bool>("--no-tty", "-T") { Description = "Never use a remote terminal: the line mode, even when input and output are terminals." };
        var command = new Command(Name, "An interactive remote shell. When input and output are terminals (and unless -T), it is a login shell on a "
            + "remote terminal, like ssh: vi, top and REPLs work, '~:' after Enter runs one built-in (put, get, lcd, lpwd...), '~.' drops the connection. "
            + "Otherwise, the line mode: each line runs on the server through /bin/sh -c in the current "
            + "remote directory (a failing status shows as [exit N]; Ctrl-C interrupts it); cd, pwd, ls, put, get, lcd, lpwd, help and quit are built in. "
            + "Lines are edited with the arrow keys and Emacs keys, with history; when input is not a terminal, lines are read as they come.\n\n"
            + "Examples:\n  ferry shell --server 10.0.0.5:7447\n  printf 'cd logs\\ntail -n 5 app.log\\n' | ferry shell")
        {
            server, noTty,
        };
        command.SetAction((parse, ct) => CommonOptions.RunClientAsync(parse, server, address =>
            new ShellSession(parse, address, environment, useTerminal: !parse.GetValue(noTty)).RunAsync(ct)));
        return command;
    }
}
