namespace Ferry.Server.Exec;

/// <summary>How a process ended: its exit status, or the signal that ended it (<see cref="Signal"/> is then not 0).</summary>
internal readonly record struct ProcessExit(int Status, int Signal)
{
    /// <summary>The code a shell reports for it: the status, or 128 + N for a death by signal N.</summary>
    public int ShellCode => Signal == 0 ? Status : 128 + Signal;

    /// <summary>What is known of a process that could not be waited for properly.</summary>
    public static ProcessExit Unknown => new(255, 0);
}
