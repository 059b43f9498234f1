namespace Ferry.Server.Exec;

/// <summary>
/// What a client sends a running command: stdin, signals and, on a terminal, window sizes (TCP exec). Its task
/// ends normally when the client is done with the command, and fails when the client goes away; the runner then kills
/// the command with everything it started.
/// </summary>
internal interface ICommandInput
{
    /// <summary>Runs from the start of <paramref name="command"/> until the client is done with it (possibly after its exit).</summary>
    Task RunAsync(RunningCommand command, CancellationToken cancellationToken);
}
