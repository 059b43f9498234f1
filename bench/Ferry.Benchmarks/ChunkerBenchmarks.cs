using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ferry.Sync.Chunking;

namespace Ferry.Benchmarks;

/// <summary>
/// FastCDC chunking (cut points plus an XXH3-128 id per chunk) of 256 MiB of random bytes, with the parameters a
/// 256 MiB file gets (8 KiB average, 2 KiB min, 32 KiB max, 64 MiB segments, so four segments): serially and with one
/// worker per core, from memory and from a file.
/// </summary>
/// <remarks>
/// The file lies in the temporary folder and is read through the page cache (it was just written, and every iteration
/// reads it again), so the file figures are the chunker plus the read system calls, not the disk. Random content has
/// no repeated chunks and is the usual case for the cut-point loop (no early exits on long runs of equal bytes).
/// </remarks>
[MemoryDiagnoser]
[Config(typeof(Configuration))]
public class ChunkerBenchmarks
{
    /// <summary>Bytes chunked per operation.</summary>
    public const int DataLength = 256 * 1024 * 1024;

    private sealed class Configuration : ManualConfig
    {
        public Configuration() => AddColumn(new ThroughputColumn(DataLength));
    }

    private readonly FastCdcChunker _chunker = new(ChunkingParameters.ForFileLength(DataLength));
    private readonly int _workers = Environment.ProcessorCount;
    private byte[] _data = null!;
    private string _folder = null!;
    private string _file = null!;

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[DataLength];
        new Random(2026).NextBytes(_data);
        _folder = Path.Combine(Path.GetTempPath(), $"ferry-bench-chunker-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_folder);
        _file = Path.Combine(_folder, "data.bin");
        File.WriteAllBytes(_file, _data);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    [Benchmark(Baseline = true)]
    public int InMemorySerial() => _chunker.Chunk(_data).Count;

    [Benchmark]
    public int InMemoryParallel() => _chunker.ChunkParallel(_data, _workers).Count;

    [Benchmark]
    public Task<int> FileSerial() => CountFileChunksAsync(1);

    [Benchmark]
    public Task<int> FileParallel() => CountFileChunksAsync(_workers);

    private async Task<int> CountFileChunksAsync(int workers)
    {
        using var file = File.OpenHandle(_file);
        var count = 0;
        await foreach (var _ in _chunker.ChunkFileAsync(file, DataLength, workers).ConfigureAwait(false))
            count++;
        return count;
    }

    /// <summary>Setup, each benchmark once with the results compared, and cleanup, without BenchmarkDotNet.</summary>
    public static async Task SmokeAsync()
    {
        var benchmark = new ChunkerBenchmarks();
        benchmark.Setup();
        try
        {
            var counts = new[]
            {
                benchmark.InMemorySerial(),
                benchmark.InMemoryParallel(),
                await benchmark.FileSerial().ConfigureAwait(false),
                await benchmark.FileParallel().ConfigureAwait(false),
            };
            if (counts.Distinct().Count() != 1 || counts[0] < DataLength / benchmark._chunker.Parameters.MaxSize)
                throw new InvalidOperationException($"The chunk counts differ or are implausible: {string.Join(", ", counts)}.");
        }
        finally
        {
            benchmark.Cleanup();
        }
    }
}
