namespace Ferry.Server.Exec;

/// <summary>What became of a command (docs/protocol.md §6.1 exit, §7.2 result): every transport reports it the same way.</summary>
internal sealed record CommandOutcome
{
    /// <summary>The exit code reported for a command killed at its time limit, as timeout(1) reports it.</summary>
    public const int TimedOutCode = 124;

    public required CommandEnd End { get; init; }

    /// <summary>The exit status when <see cref="End"/> is <see cref="CommandEnd.Exited"/>.</summary>
    public int Status { get; init; }

    /// <summary>The signal number when <see cref="End"/> is <see cref="CommandEnd.Signalled"/>.</summary>
    public int Signal { get; init; }

    /// <summary>With a signal: the command left a core dump (known only unconfined, see <see cref="ProcessExit.OfSandbox"/>).</summary>
    public bool CoreDumped { get; init; }

    /// <summary>The name of the signal that ended the command (INT, SEGV...), or null when it exited or timed out.</summary>
    public string? SignalName => End == CommandEnd.Signalled ? Interop.Libc.SignalName(Signal) : null;

    /// <summary>Output went past the cap: the rest was dropped and the marker was written on stderr.</summary>
    public bool Truncated { get; init; }

    /// <summary>The client asked for a signal (interrupt, terminate, kill) while the command ran.</summary>
    public bool SignalledByClient { get; init; }

    public bool TimedOut => End == CommandEnd.TimedOut;

    /// <summary>The code on the wire: the status, 128 + N for a death by signal N (as shells report it), 124 at the time limit.</summary>
    public int Code => End switch
    {
        CommandEnd.Exited => Status,
        CommandEnd.Signalled => 128 + Signal,
        _ => TimedOutCode,
    };

    internal static CommandOutcome Of(ProcessExit exit, bool timedOut, bool truncated, bool signalledByClient) => new()
    {
        End = timedOut ? CommandEnd.TimedOut : exit.Signal != 0 ? CommandEnd.Signalled : CommandEnd.Exited,
        Status = exit.Status,
        Signal = exit.Signal,
        CoreDumped = exit.CoreDumped,
        Truncated = truncated,
        SignalledByClient = signalledByClient,
    };
}
