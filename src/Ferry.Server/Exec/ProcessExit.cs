namespace Ferry.Server.Exec;

/// <summary>How a process ended: its exit status, or the signal that ended it (<see cref="Signal"/> is then not 0).</summary>
internal readonly record struct ProcessExit(int Status, int Signal, bool CoreDumped = false)
{
    /// <summary>
    /// How a sandboxed command ended, from bubblewrap's exit: bwrap exits with the command's status, or with 128 + N when
    /// a signal N ended it, so a status of 129–192 is taken for that signal (as a shell's <c>$?</c> is read). Whether a
    /// core was dumped does not get through.
    /// </summary>
    public static ProcessExit OfSandbox(ProcessExit bwrap) =>
        bwrap.Signal == 0 && bwrap.Status is > 128 and <= 128 + 64 ? new ProcessExit(0, bwrap.Status - 128) : bwrap;

    /// <summary>The code a shell reports for it: the status, or 128 + N for a death by signal N.</summary>
    public int ShellCode => Signal == 0 ? Status : 128 + Signal;

    /// <summary>What is known of a process that could not be waited for properly.</summary>
    public static ProcessExit Unknown => new(255, 0);
}
