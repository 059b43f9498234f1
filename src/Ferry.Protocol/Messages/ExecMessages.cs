using System.Text.Json.Serialization;
using Ferry.Protocol.Framing;

namespace Ferry.Protocol.Messages;

/// <summary>
/// Runs a command (docs/protocol.md §6): <see cref="Argv"/> directly, or <see cref="Shell"/> through /bin/sh -c.
/// The connection is then the command's until the client sends exec_done.
/// </summary>
internal sealed record ExecMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Exec;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("argv")] public IReadOnlyList<string>? Argv { get; init; }
    [JsonPropertyName("shell")] public string? Shell { get; init; }
    /// <summary>Working directory relative to the user's home (§5.1 rules); default the home itself.</summary>
    [JsonPropertyName("cwd")] public string? WorkingDirectory { get; init; }
    /// <summary>Seconds before the command and its children are killed; capped by the server's limit.</summary>
    [JsonPropertyName("timeout")] public double? TimeoutSeconds { get; init; }
    /// <summary>Run on a pseudo-terminal of this size (§6.4); null for pipes. With a terminal, neither argv nor shell starts a login shell.</summary>
    [JsonPropertyName("tty")] public ExecTerminal? Terminal { get; init; }
}

/// <summary>
/// The pseudo-terminal a command asks for (§6.4), as SSH's pty-req: the terminal type for TERM, and the window in
/// character cells and (0 when unknown) pixels.
/// </summary>
internal sealed record ExecTerminal
{
    [JsonPropertyName("term")] public string? Term { get; init; }
    [JsonPropertyName("cols")] public long Columns { get; init; }
    [JsonPropertyName("rows")] public long Rows { get; init; }
    [JsonPropertyName("xpixel")] public long XPixels { get; init; }
    [JsonPropertyName("ypixel")] public long YPixels { get; init; }
}

/// <summary>The client's window changed size (§6.4): only while a command with a terminal runs; no reply.</summary>
internal sealed record WindowChangeMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.WindowChange;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("cols")] public long Columns { get; init; }
    [JsonPropertyName("rows")] public long Rows { get; init; }
    [JsonPropertyName("xpixel")] public long XPixels { get; init; }
    [JsonPropertyName("ypixel")] public long YPixels { get; init; }
}

/// <summary>The command started. Output bytes are in <see cref="Encoding"/> (a .NET/IANA name such as utf-8 or gbk).</summary>
internal sealed record ExecStartedMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.ExecStarted;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("encoding")] public string? Encoding { get; init; }
}

/// <summary>A piece of the command's stdout or stderr (the frame's cmd says which), as the body.</summary>
internal sealed record ExecOutputMessage
{
    [JsonIgnore] public bool IsError { get; init; }
    [JsonPropertyName("cmd")] public string Cmd => IsError ? CommandNames.Stderr : CommandNames.Stdout;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
}

/// <summary>Bytes for the command's stdin (body), or with cmd stdin_end and no body, the end of input.</summary>
internal sealed record ExecInputMessage
{
    [JsonIgnore] public bool IsEnd { get; init; }
    [JsonPropertyName("cmd")] public string Cmd => IsEnd ? CommandNames.StdinEnd : CommandNames.Stdin;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("bodysize")] public long BodySize { get; init; }
}

/// <summary>Asks the server to stop the command: its whole process tree is killed.</summary>
internal sealed record ExecSignalMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Signal;
    [JsonPropertyName("id")] public long Id { get; init; }
    /// <summary>HUP, INT, QUIT, KILL, USR1, USR2 or TERM (§6.1).</summary>
    [JsonPropertyName("signal")] public string? Signal { get; init; }
}

/// <summary>
/// The command ended. <see cref="Code"/> is its exit status; a death by signal N is 128+N, as shells report it.
/// </summary>
internal sealed record ExecExitMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.Exit;
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("code")] public int Code { get; init; }
    [JsonPropertyName("timed_out")] public bool TimedOut { get; init; }
    [JsonPropertyName("truncated")] public bool Truncated { get; init; }
    [JsonPropertyName("killed")] public bool Killed { get; init; }
    /// <summary>The signal that ended the command, without "SIG" (INT, KILL, SEGV...); null when it exited.</summary>
    [JsonPropertyName("signal")] public string? Signal { get; init; }
    /// <summary>With <see cref="Signal"/>: the command left a core dump.</summary>
    [JsonPropertyName("core_dumped")] public bool? CoreDumped { get; init; }
}

/// <summary>The client has read exit; the connection returns to ordinary requests.</summary>
internal sealed record ExecDoneMessage
{
    [JsonPropertyName("cmd")] public string Cmd => CommandNames.ExecDone;
    [JsonPropertyName("id")] public long Id { get; init; }
}
