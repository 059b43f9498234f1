namespace Ferry.Client.Exec;

/// <summary>
/// The pseudo-terminal a command runs on (docs/protocol.md §6.4): its type, for the remote TERM, and its first window.
/// Later sizes go through <see cref="ExecOptions.WindowChanges"/>.
/// </summary>
public sealed record RemoteTerminal
{
    /// <summary>The terminal type (TERM), letters, digits and ._+- only; null or "" for the server's default (xterm-256color).</summary>
    public string? Term { get; init; }

    /// <summary>The window when the command starts.</summary>
    public TerminalWindow Window { get; init; } = new(80, 24);
}
