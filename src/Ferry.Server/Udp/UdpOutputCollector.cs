using Ferry.Server.Exec;

namespace Ferry.Server.Udp;

/// <summary>
/// Collects a UDP command's output for its one result. The runner has already cut it to the request's cap, so memory is
/// bounded by that cap (docs/protocol.md §7.2).
/// </summary>
internal sealed class UdpOutputCollector : ICommandOutputSink
{
    private readonly MemoryStream _stdout = new();
    private readonly MemoryStream _stderr = new();

    public byte[] Stdout => _stdout.ToArray();
    public byte[] Stderr => _stderr.ToArray();

    public ValueTask StartedAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask WriteAsync(CommandOutputStream stream, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        (stream == CommandOutputStream.Stdout ? _stdout : _stderr).Write(data.Span);
        return ValueTask.CompletedTask;
    }

    public ValueTask CompletedAsync(CommandOutcome outcome, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
