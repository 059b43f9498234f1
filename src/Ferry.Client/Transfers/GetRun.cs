namespace Ferry.Client.Transfers;

/// <summary>What one run of the download pipeline shares across its files.</summary>
internal sealed record GetRun(GetOptions Options, TransferObserver Observer)
{
    /// <summary>Connections a file of several ranges may use at once (1: this one only).</summary>
    public int Streams { get; init; } = 1;

    /// <summary>Compression and bandwidth cap; by default the options' <c>BandwidthLimit</c>, one bucket for the whole run.</summary>
    public RangeShaping Shaping { get; init; } = RangeShaping.Limited(Options.BandwidthLimit);

    /// <summary>Told the raw file bytes each data frame moved.</summary>
    public Action<long>? DataMoved { get; init; }
}
