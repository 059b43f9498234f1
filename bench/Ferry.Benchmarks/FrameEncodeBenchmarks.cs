using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Benchmarks;

/// <summary>
/// Encoding one echo frame (header + body) with Ferry's <see cref="FrameWriter"/> into a <see cref="Pipe"/> whose
/// reader is drained after every frame, so the pipe's segments are reused and each operation measures the writer
/// (JSON header serialization, length prefix, body copy, flush) rather than a growing buffer.
/// </summary>
/// <remarks>
/// The <see cref="EchoMessage"/> record is created once: a real caller allocates one per frame (24 bytes on x64),
/// which is not the writer's cost. The pipe never pauses the writer (pauseWriterThreshold 0), so FlushAsync completes
/// synchronously; that is checked once in setup.
/// </remarks>
[MemoryDiagnoser]
[MedianColumn]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class FrameEncodeBenchmarks
{
    private Pipe _pipe = null!;
    private FrameWriter _writer = null!;
    private byte[] _smallBody = null!;
    private byte[] _largeBody = null!;
    private EchoMessage _smallMessage = null!;
    private EchoMessage _largeMessage = null!;

    [GlobalSetup]
    public void Setup()
    {
        _pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
        _writer = new FrameWriter(_pipe.Writer);
        _smallBody = FrameData.Body(FrameData.SmallBody);
        _largeBody = FrameData.Body(FrameData.LargeBody);
        _smallMessage = new EchoMessage { BodySize = _smallBody.Length };
        _largeMessage = new EchoMessage { BodySize = _largeBody.Length };

        // Self-check: the bytes written are exactly the frame the decoder benchmarks read.
        Check(_smallMessage, _smallBody, FrameData.Frame(FrameData.SmallBody));
        Check(_largeMessage, _largeBody, FrameData.Frame(FrameData.LargeBody));
        if (EncodeSmall() != FrameData.Frame(FrameData.SmallBody).Length || EncodeLarge() != FrameData.Frame(FrameData.LargeBody).Length)
            throw new InvalidOperationException("The benchmark methods wrote another number of bytes than the reference frames.");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _writer.Dispose();
        _pipe.Writer.Complete();
        _pipe.Reader.Complete();
    }

    [Benchmark]
    [BenchmarkCategory("Encode small (64 B body)")]
    public long EncodeSmall() => Encode(_smallMessage, _smallBody);

    [Benchmark]
    [BenchmarkCategory("Encode large (1 MiB body)")]
    public long EncodeLarge() => Encode(_largeMessage, _largeBody);

    private long Encode(EchoMessage message, byte[] body)
    {
        _writer.WriteHeader(message, FerryJsonContext.Default.EchoMessage, body.Length);
        _writer.WriteBody(body);
        var flush = _writer.FlushAsync(CancellationToken.None);
        if (!flush.IsCompletedSuccessfully)
            throw new InvalidOperationException("The pipe paused the writer; the benchmark expects synchronous flushes.");

        // Drain: everything written is consumed, so the pipe returns its segments for reuse.
        if (!_pipe.Reader.TryRead(out var result))
            throw new InvalidOperationException("Nothing to read after a flush.");
        var length = result.Buffer.Length;
        _pipe.Reader.AdvanceTo(result.Buffer.End);
        return length;
    }

    private void Check(EchoMessage message, byte[] body, byte[] expected)
    {
        // One encode whose output is kept and compared; the benchmark methods drain without looking.
        _writer.WriteHeader(message, FerryJsonContext.Default.EchoMessage, body.Length);
        _writer.WriteBody(body);
        if (!_writer.FlushAsync(CancellationToken.None).IsCompletedSuccessfully || !_pipe.Reader.TryRead(out var result))
            throw new InvalidOperationException("The pipe did not complete the flush synchronously.");
        var actual = result.Buffer.ToArray();
        _pipe.Reader.AdvanceTo(result.Buffer.End);
        if (!actual.AsSpan().SequenceEqual(expected))
            throw new InvalidOperationException($"FrameWriter produced {actual.Length} bytes that differ from the {expected.Length}-byte reference frame.");
    }
}
