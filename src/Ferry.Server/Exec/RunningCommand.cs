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

    /// <summary>Whether the command runs on a terminal (and so takes window changes).</summary>
    public bool HasTerminal => group.Terminal is not null;

    /// <summary>
    /// Sends a signal by name (docs/protocol.md §6.1; none means KILL). After the exit the id may belong to someone else,
    /// so signals then go nowhere; returns whether it was sent.
    /// </summary>
    /// <exception cref="Protocol.Errors.FerryProtocolException">field_invalid (fatal): a name that is not one of the signals a client may send.</exception>
    public bool Signal(string? name)
    {
        var signal = Interop.Libc.SignalByName(name ?? "KILL");
        if (signal == 0)
            throw new Protocol.Errors.FerryProtocolException(Protocol.Errors.FerryErrorCode.FieldInvalid,
                "'signal' must be one of HUP, INT, QUIT, KILL, USR1, USR2 and TERM.", isFatal: true);
        if (group.HasExited)
            return false;
        _signalled = true;
        group.Signal(signal);
        return true;
    }

    /// <summary>Sets the terminal's window size; false when the command has no terminal.</summary>
    public bool Resize(TerminalSize size)
    {
        if (group.Terminal is not { } terminal)
            return false;
        terminal.Resize(size);
        return true;
    }
}
