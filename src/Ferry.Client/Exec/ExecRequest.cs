using System.Text;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;

namespace Ferry.Client.Exec;

/// <summary>
/// A command to run remotely (docs/protocol.md §6): a program and its arguments, run directly (<see cref="Argv"/>), or
/// one command line run by the server's <c>/bin/sh -c</c> (<see cref="Shell"/>). Exactly one of the two.
/// </summary>
public sealed record ExecRequest
{
    /// <summary>The program and its arguments, run without a shell (no globbing, no variables, no quoting to get wrong).</summary>
    public IReadOnlyList<string>? Argv { get; init; }

    /// <summary>A command line for the server's <c>/bin/sh -c</c>.</summary>
    public string? Shell { get; init; }

    /// <summary>Working directory relative to the user's home (remote path rules); null or "" for the home itself.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Time after which the server kills the command and its children (exit 124); it can only shorten the server's own limit.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>
    /// Run on a remote pseudo-terminal (stdout then carries everything the command writes, and stdin is what is typed);
    /// without <see cref="Argv"/> and <see cref="Shell"/>, the server starts a login shell on it. Null: pipes.
    /// </summary>
    public RemoteTerminal? Terminal { get; init; }

    /// <summary>A window size the wire can carry; throws field_invalid otherwise.</summary>
    internal static void CheckWindow(TerminalWindow window)
    {
        if (!FitsTheWire(window))
            throw new FerryException(FerryErrorCode.FieldInvalid, $"A terminal window is 0 to {ushort.MaxValue} cells and pixels each way, not {window}.");
    }

    internal static bool FitsTheWire(TerminalWindow window) =>
        window.Columns is >= 0 and <= ushort.MaxValue && window.Rows is >= 0 and <= ushort.MaxValue
        && window.XPixels is >= 0 and <= ushort.MaxValue && window.YPixels is >= 0 and <= ushort.MaxValue;

    /// <summary>Runs <paramref name="argv"/>[0] directly with the rest as its arguments.</summary>
    public static ExecRequest Command(params string[] argv) => new() { Argv = argv };

    /// <summary>Runs <paramref name="commandLine"/> through the server's <c>/bin/sh -c</c>.</summary>
    public static ExecRequest ShellLine(string commandLine) => new() { Shell = commandLine };

    /// <summary>Checks the request before anything is sent; throws <see cref="FerryException"/> (field_invalid, path_*).</summary>
    internal (IReadOnlyList<string>? Argv, string? Shell, string? Cwd, double? Timeout) Validate()
    {
        var hasArgv = Argv is { Count: > 0 };
        var hasShell = !string.IsNullOrEmpty(Shell);
        if (Terminal is { } terminal)
        {
            if (terminal.Term is { Length: > 0 } term && (term.Length > 64 || !term.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '+' or '-')))
                throw new FerryException(FerryErrorCode.FieldInvalid, $"The terminal type '{term}' is not a terminal name (letters, digits and ._+-, at most 64).");
            CheckWindow(terminal.Window);
        }
        if (hasArgv == hasShell && !(Terminal is not null && !hasArgv && !hasShell))
            throw new FerryException(FerryErrorCode.FieldInvalid, "A command is either a program with arguments or one shell command line, not both and not neither.");
        if (hasArgv && string.IsNullOrEmpty(Argv![0]))
            throw new FerryException(FerryErrorCode.FieldInvalid, "The program name is empty.");
        if ((hasArgv && Argv!.Any(a => a is null || a.Contains('\0'))) || (hasShell && Shell!.Contains('\0')))
            throw new FerryException(FerryErrorCode.FieldInvalid, "Commands and arguments cannot contain NUL characters.");
        string? cwd = null;
        if (!string.IsNullOrEmpty(WorkingDirectory))
        {
            cwd = RemotePath.Normalize(WorkingDirectory);
            if (cwd.Length == 0)
                cwd = null;
        }
        double? timeout = null;
        if (Timeout is { } t)
        {
            if (t <= TimeSpan.Zero)
                throw new FerryException(FerryErrorCode.FieldInvalid, "The timeout must be positive.");
            timeout = t.TotalSeconds;
        }
        return (hasArgv ? Argv : null, hasShell ? Shell : null, cwd, timeout);
    }
}

/// <summary>How <see cref="FerryClient.ExecAsync"/> treats output encodings, interruption and input.</summary>
public sealed record ExecOptions
{
    /// <summary>
    /// Pass output bytes through untouched. Default false: when the server declares an output encoding other than
    /// <see cref="OutputEncoding"/> (for example gbk from a Chinese Windows server), stdout and stderr are converted.
    /// </summary>
    public bool Raw { get; init; }

    /// <summary>The encoding the caller's streams expect; default <see cref="DefaultOutputEncoding"/>.</summary>
    public Encoding? OutputEncoding { get; init; }

    /// <summary>After cancellation sent INT, how long the command may take to exit before KILL is sent. Default 2 s.</summary>
    public TimeSpan KillAfter { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// After KILL, how long to wait for the server's exit before the connection is given up (closed and marked broken;
    /// the server then kills the command because its client left). Default 5 s.
    /// </summary>
    public TimeSpan AbandonAfter { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Largest stdin frame; input is read and sent in pieces of at most this size. Default 64 KiB.</summary>
    public int StdinChunkBytes { get; init; } = 64 * 1024;

    /// <summary>
    /// New sizes of the window, for a command on a <see cref="ExecRequest.Terminal"/>: each is sent as it comes while the
    /// command runs (the latest wins when several wait).
    /// </summary>
    public System.Threading.Channels.ChannelReader<TerminalWindow>? WindowChanges { get; init; }

    /// <summary>The defaults documented on each property.</summary>
    public static ExecOptions Default { get; } = new();

    /// <summary>UTF-8 (without a byte order mark), or the console's output encoding on Windows.</summary>
    public static Encoding DefaultOutputEncoding => OperatingSystem.IsWindows() ? Console.OutputEncoding : new UTF8Encoding(false);
}

/// <summary>How a remote command ended.</summary>
public sealed record ExecResult
{
    /// <summary>The exit status; a death by signal N is 128 + N (130 after an interrupt), a timeout 124.</summary>
    public int ExitCode { get; init; }

    /// <summary>The server killed the command at its time limit.</summary>
    public bool TimedOut { get; init; }

    /// <summary>The server cut the output at its limit (a marker line was sent on stderr).</summary>
    public bool Truncated { get; init; }

    /// <summary>The signal that ended the command, without "SIG" (INT, KILL, SEGV...), when the server reports one; null when it exited.</summary>
    public string? Signal { get; init; }

    /// <summary>With <see cref="Signal"/>: the command left a core dump.</summary>
    public bool CoreDumped { get; init; }

    /// <summary>The server delivered a signal the client sent (interrupt, or a stop after the output could not be written).</summary>
    public bool Killed { get; init; }

    /// <summary>The caller cancelled: INT (then KILL) was sent, and the command's exit was still read.</summary>
    public bool Interrupted { get; init; }

    /// <summary>The output encoding the server declared (for example utf-8 or gbk); null if it declared none.</summary>
    public string? ServerEncoding { get; init; }

    /// <summary>True when output was converted from <see cref="ServerEncoding"/> to the caller's encoding.</summary>
    public bool Transcoded { get; init; }

    /// <summary>Bytes of stdout as the server sent them (before any conversion).</summary>
    public long StdoutBytes { get; init; }

    /// <summary>Bytes of stderr as the server sent them.</summary>
    public long StderrBytes { get; init; }

    /// <summary>Time from the request to the exit.</summary>
    public TimeSpan Elapsed { get; init; }
}
