using Spectre.Console;

namespace Ferry.Cli;

/// <summary>
/// What the commands render to besides the invocation's text writers: the interactive terminal, when there is one, and
/// the clock. Tests inject a <c>TestConsole</c> and a fake <see cref="TimeProvider"/>.
/// </summary>
public sealed record CliEnvironment
{
    /// <summary>
    /// The interactive terminal for progress bars and tables, or null when output is redirected (then commands write
    /// plain text to <c>InvocationConfiguration.Output</c>).
    /// </summary>
    public IAnsiConsole? Terminal { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>
    /// Opens standard input when it is redirected (a pipe or a file): 'ferry exec' forwards it, 'ferry shell' reads its
    /// lines from it. Null when input is a terminal, and in-process (tests may set it).
    /// </summary>
    public Func<Stream>? RedirectedInput { get; init; }

    /// <summary>Standard input is an interactive terminal ('ferry shell' then edits lines itself when output is one too).</summary>
    public bool InputIsTerminal { get; init; }

    /// <summary>
    /// Where 'ferry sync' keeps its hash cache; null for the user's cache folder ($XDG_CACHE_HOME/ferry or ~/.cache/ferry).
    /// Tests point it at a temporary folder.
    /// </summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Where 'ferry shell' keeps its history per server; null for $XDG_STATE_HOME/ferry/history (or ~/.local/state/ferry/history).</summary>
    public string? StateDirectory { get; init; }

    /// <summary>No terminal: plain text only.</summary>
    public static CliEnvironment Plain { get; } = new();

    /// <summary>The process's own console: a terminal unless standard output is redirected.</summary>
    public static CliEnvironment Detect() => new()
    {
        Terminal = Console.IsOutputRedirected ? null : AnsiConsole.Console,
        RedirectedInput = Console.IsInputRedirected ? Console.OpenStandardInput : null,
        InputIsTerminal = !Console.IsInputRedirected,
    };
}
