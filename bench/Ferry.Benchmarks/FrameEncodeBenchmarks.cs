using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Benchmarks;

/// <summary>
/// Encoding one echo frame (JSON header behind its 4-byte length, then the body) with Ferry's <see cref="FrameWriter"/>,
/// into a sink that is emptied after every frame so that each operation measures the same work.
/// </summary>
/// <remarks>
/// <para>Two sinks (<see cref="Target"/>):</para>
/// <list type="bullet">
/// <item><see cref="Sink.BufferWriter"/>: a minimal <see cref="PipeWriter"/> over one pre-sized array, reset after every
/// frame. Nothing but <see cref="FrameWriter"/>'s own work is measured (header serialization, prefix, body copy).</item>
/// <item><see cref="Sink.Pipe"/>: a default <see cref="System.IO.Pipelines.Pipe"/> (4 KiB segments from the shared array
/// pool, writer never paused) whose reader is drained after every flush, closer to what a connection does.</item>
/// </list>
/// <para>The <see cref="EchoMessage"/> record is created once: a real caller allocates one per frame (24 bytes on x64),
/// which is not the writer's cost. Setup checks that both sinks receive exactly the reference frame bytes.</para>
/// </remarks>
[MemoryDiagnoser]
[MedianColumn]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class FrameEncodeBenchmarks
{
    public enum Sink
    {
        BufferWriter,
        Pipe,
    }

    [ParamsAllValues]
    public Sink Target { get; set; }

    private ResettableBufferWriter? _buffer;
    private Pipe? _pipe;
    private FrameWriter _writer = null!;
    private byte[] _smallBody = null!;
    private byte[] _largeBody = null!;
    private EchoMessage _smallMessage = null!;
    private EchoMessage _largeMessage = null!;

    [GlobalSetup]
    public void Setup()
    {
        _smallBody = FrameData.Body(FrameData.SmallBody);
        _largeBody = FrameData.Body(FrameData.LargeBody);
        _smallMessage = new EchoMessage { BodySize = _smallBody.Length };
        _largeMessage = new EchoMessage { BodySize = _largeBody.Length };

        PipeWriter output;
        if (Target == Sink.BufferWriter)
        {
            _buffer = new ResettableBufferWriter(FrameData.Frame(FrameData.LargeBody).Length);
            output = _buffer;
        }
        else
        {
            _pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
            output = _pipe.Writer;
        }
        _writer = new FrameWriter(output);

        // Self-check: the bytes written are exactly the frames the decoder benchmarks read.
        Check(_smallMessage, _smallBody, FrameData.Frame(FrameData.SmallBody));
        Check(_largeMessage, _largeBody, FrameData.Frame(FrameData.LargeBody));
        if (EncodeSmall() != FrameData.Frame(FrameData.SmallBody).Length || EncodeLarge() != FrameData.Frame(FrameData.LargeBody).Length)
            throw new InvalidOperationException("The benchmark methods wrote another number of bytes than the reference frames.");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _writer.Dispose();
        _pipe?.Writer.Complete();
        _pipe?.Reader.Complete();
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
            throw new InvalidOperationException("The sink paused the writer; the benchmark expects synchronous flushes.");
        flush.GetAwaiter().GetResult(); // a ValueTask is consumed exactly once

        if (_buffer is not null)
        {
            var written = _buffer.WrittenCount;
            _buffer.Reset();
            return written;
        }

        // Drain: everything written is consumed, so the pipe can reuse its segments.
        var reader = _pipe!.Reader;
        if (!reader.TryRead(out var result))
            throw new InvalidOperationException("Nothing to read after a flush.");
        var length = result.Buffer.Length;
        reader.AdvanceTo(result.Buffer.End);
        return length;
    }

    private void Check(EchoMessage message, byte[] body, byte[] expected)
    {
        // One encode whose output is kept and compared; the benchmark methods drain without looking.
        _writer.WriteHeader(message, FerryJsonContext.Default.EchoMessage, body.Length);
        _writer.WriteBody(body);
        var flush = _writer.FlushAsync(CancellationToken.None);
        if (!flush.IsCompletedSuccessfully)
            throw new InvalidOperationException("The sink did not complete the flush synchronously.");
        flush.GetAwaiter().GetResult(); // a ValueTask is consumed exactly once
        byte[] actual;
        if (_buffer is not null)
        {
            actual = _buffer.WrittenSpan.ToArray();
            _buffer.Reset();
        }
        else
        {
            if (!_pipe!.Reader.TryRead(out var result))
                throw new InvalidOperationException("Nothing to read after a flush.");
            actual = result.Buffer.ToArray();
            _pipe.Reader.AdvanceTo(result.Buffer.End);
        }
        if (!actual.AsSpan().SequenceEqual(expected))
            throw new InvalidOperationException($"FrameWriter produced {actual.Length} bytes that differ from the {expected.Length}-byte reference frame.");
    }

    /// <summary>A <see cref="PipeWriter"/> over one growable array that is reset, not reallocated, between frames.</summary>
    private sealed class ResettableBufferWriter(int capacity) : PipeWriter
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(capacity);

        public int WrittenCount => _buffer.WrittenCount;
        public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;
        public void Reset() => _buffer.ResetWrittenCount();

        public override void Advance(int bytes) => _buffer.Advance(bytes);
        public override Memory<byte> GetMemory(int sizeHint = 0) => _buffer.GetMemory(sizeHint);
        public override Span<byte> GetSpan(int sizeHint = 0) => _buffer.GetSpan(sizeHint);
        public override void CancelPendingFlush() { }
        public override void Complete(Exception? exception = null) { }
        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) =>
            new(new FlushResult(isCanceled: false, isCompleted: false));
    }
}
