using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Ferry.Benchmarks;

/// <summary>
/// "MiB/s": a fixed number of bytes per operation divided by the mean time, so throughput benchmarks read as speeds
/// rather than as milliseconds of a size one has to remember.
/// </summary>
public sealed class ThroughputColumn(long bytesPerOperation) : IColumn
{
    public string Id => $"{nameof(ThroughputColumn)}.{bytesPerOperation}";
    public string ColumnName => "MiB/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Statistics;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => $"Mebibytes processed per second ({bytesPerOperation / (1024 * 1024)} MiB per operation / mean)";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var mean = summary[benchmarkCase]?.ResultStatistics?.Mean;
        return mean is > 0 ? (bytesPerOperation / (1024.0 * 1024.0) / (mean.Value / 1e9)).ToString("N0", System.Globalization.CultureInfo.InvariantCulture) : "-";
    }

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
}
