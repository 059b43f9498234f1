namespace Ferry.Server.Exec;

/// <summary>How a command ended.</summary>
internal enum CommandEnd
{
    /// <summary>It exited with a status.</summary>
    Exited,

    /// <summary>A signal ended it (one the client sent, or one from elsewhere).</summary>
    Signalled,

    /// <summary>Its time limit ran out and it was killed with everything it started.</summary>
    TimedOut,
}
