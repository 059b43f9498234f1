using Ferry.Server.Auth;

namespace Ferry.Server.Exec;

/// <summary>
/// A command checked and ready to run (<see cref="CommandRunner.Prepare"/>), the same for every transport: who runs it,
/// what, where in the home, for how long and with how much output. The home itself is given when it runs, because
/// opening a user's storage may take a while (UDP checks requests on its receive loop and opens it later).
/// </summary>
internal sealed record CommandRequest
{
    /// <summary>The user, or null on a server without logins.</summary>
    public required UserAccount? User { get; init; }

    /// <summary>The program and its arguments (a shell line is already /bin/sh -c LINE).</summary>
    public required IReadOnlyList<string> Argv { get; init; }

    /// <summary>The working directory as the client named it, relative to the home; null or empty for the home.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>When the command and everything it started are killed.</summary>
    public required TimeSpan TimeLimit { get; init; }

    /// <summary>The most output (stdout and stderr together) passed on; the rest is read and dropped.</summary>
    public required long MaxOutputBytes { get; init; }

    /// <summary>Which service asked, for the metrics.</summary>
    public required CommandTransport Transport { get; init; }

    /// <summary>What feeds the command while it runs (stdin, signals), or null: its input is closed at once.</summary>
    public ICommandInput? Input { get; init; }

    /// <summary>The pseudo-terminal to run on, or null for pipes (stdout and stderr apart).</summary>
    public TerminalRequest? Terminal { get; init; }
}
