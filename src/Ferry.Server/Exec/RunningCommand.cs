namespace Ferry.Server.Exec;

/// <summary>The handle an <see cref="ICommandInput"/> gets on the command it feeds: its stdin, its exit, and signals.</summary>
internal sealed class RunningCommand(ProcessGroup group)
{
    private volatile bool _signalled;

    public Stream StandardInput => group.StandardInput;

    /// <summary>Completes when the command (its leader) has exited.</summary>
    public Task Exited => group.WaitForExitAsync(CancellationToken.None);

    /// <summary>Whether the client sent a signal before the command exited.</summary>
    public bool Signalled => _signalled;

    /// <summary>
    /// Sends a signal by name (INT, TERM; anything else kills the whole group). After the exit the id may belong to
    /// someone else, so signals then go nowhere; returns whether it was sent.
    /// </summary>
    public bool Signal(string? name)
    {
        if (group.HasExited)
            return false;
        _signalled = true;
        group.Signal(name ?? "KILL");
        return true;
    }
}
