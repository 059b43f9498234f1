namespace Ferry.Client.Transfers;

/// <summary>What one run of the upload pipeline shares across its files.</summary>
internal sealed record PutRun(PutOptions Options, TransferObserver Observer)
{
    /// <summary>Connections a file of several ranges may use at once (1: this one only).</summary>
    public int Streams { get; init; } = 1;

    public RangeShaping Shaping { get; init; } = RangeShaping.None;

    /// <summary>Told the raw file bytes each data frame moved (sync progress counts only bytes that move).</summary>
    public Action<long>? DataMoved { get; init; }
}
