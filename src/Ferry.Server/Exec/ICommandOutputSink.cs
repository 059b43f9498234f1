namespace Ferry.Server.Exec;

/// <summary>
/// Where a running command's output goes: TCP streams it as frames, UDP collects it for one result. The runner calls one
/// method at a time, in order (started, output as produced, completed), and nothing after completed; the runner has
/// already applied the output cap, so a sink takes what it is given.
/// </summary>
internal interface ICommandOutputSink
{
    /// <summary>The command started (nothing is called when it could not be).</summary>
    ValueTask StartedAsync(CancellationToken cancellationToken);

    /// <summary>A piece of output; <paramref name="data"/> is only valid during the call.</summary>
    ValueTask WriteAsync(CommandOutputStream stream, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>The command ended and its output was drained: what the client is told.</summary>
    ValueTask CompletedAsync(CommandOutcome outcome, CancellationToken cancellationToken);
}
