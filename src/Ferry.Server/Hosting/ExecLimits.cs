namespace Ferry.Server.Hosting;

/// <summary>
/// Resource limits of every command (setrlimit, applied inside the sandbox with util-linux prlimit, so they bind the
/// command and everything it starts but not bubblewrap's own set-up). Null means no limit.
/// </summary>
public sealed record ExecLimits
{
    public static ExecLimits Default { get; } = new();

    /// <summary>Open files per process (RLIMIT_NOFILE). Default 1024.</summary>
    public long? OpenFiles { get; init; } = 1024;

    /// <summary>
    /// Processes (RLIMIT_NPROC). Default 512. The kernel counts every process of the command's account, so commands
    /// that share an account (the default exec account) share this budget.
    /// </summary>
    public long? Processes { get; init; } = 512;

    /// <summary>CPU seconds per process (RLIMIT_CPU). Default 3600.</summary>
    public long? CpuSeconds { get; init; } = 3600;

    /// <summary>
    /// Address space per process in bytes (RLIMIT_AS). Default none: runtimes such as .NET and the JVM reserve far more
    /// address space than they use, so a useful memory cap belongs in the service's cgroup (systemd MemoryMax=).
    /// </summary>
    public long? AddressSpaceBytes { get; init; }

    /// <summary>Throws naming the first limit that is not positive.</summary>
    public void Validate()
    {
        Positive(OpenFiles, nameof(OpenFiles));
        Positive(Processes, nameof(Processes));
        Positive(CpuSeconds, nameof(CpuSeconds));
        Positive(AddressSpaceBytes, nameof(AddressSpaceBytes));
    }

    private static void Positive(long? value, string name)
    {
        if (value is <= 0)
            throw new ArgumentOutOfRangeException(name, value, $"ExecLimits.{name} must be positive (or unset for no limit).");
    }
}
