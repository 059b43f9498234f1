using BenchmarkDotNet.Running;

namespace Ferry.Benchmarks;

/// <summary>
/// Entry point: <c>dotnet run -c Release --project bench/Ferry.Benchmarks -- --filter '*'</c> (see bench/run.sh).
/// Every BenchmarkDotNet command-line option works (<c>--list flat</c>, <c>--job short</c>, <c>--filter '*Decode*'</c>).
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
