using BenchmarkDotNet.Running;

namespace Ferry.Benchmarks;

/// <summary>
/// Entry point: <c>dotnet run -c Release --project bench/Ferry.Benchmarks -- --filter '*'</c> (see bench/run.sh).
/// Every BenchmarkDotNet command-line option works (<c>--list flat</c>, <c>--job short</c>, <c>--filter '*Decode*'</c>).
/// <c>--smoke</c> instead runs the loopback benchmark's setup, one round trip and its cleanup, then the chunker
/// benchmark's four operations once (their chunk counts must agree), and exits 0 when all worked
/// (.ci/checks/bench-smoke), so the benchmarks cannot drift from the code unnoticed.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args is ["--smoke"])
        {
            await EchoRoundTripBenchmarks.SmokeAsync().ConfigureAwait(false);
            Console.WriteLine("EchoRoundTripBenchmarks: setup, one round trip and cleanup passed.");
            await ChunkerBenchmarks.SmokeAsync().ConfigureAwait(false);
            Console.WriteLine("ChunkerBenchmarks: setup, each operation once and cleanup passed.");
            return 0;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
