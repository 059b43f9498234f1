using System.Buffers;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using DotNetty.Buffers;
using DotNetty.Codecs;
using DotNetty.Transport.Channels.Embedded;
using Ferry.Protocol.Framing;

namespace Ferry.Benchmarks;

/// <summary>
/// Decoding one frame that is already in memory: Ferry's <see cref="FrameDecoder"/> against DotNetty's
/// <see cref="LengthFieldBasedFrameDecoder"/>.
/// </summary>
/// <remarks>
/// <para>The input of every operation is one whole frame, <c>[u32 LE H][H bytes {"cmd":"echo","bodysize":N}][N bytes]</c>,
/// with N = 64 ("Small") or N = 1 MiB ("Large"), either in one segment or cut into several ("Small, 4 segments":
/// the prefix alone, then cuts inside the JSON and inside the body; "Large, 4 KiB segments": a pipe's usual segment
/// size, 257 segments). DotNetty reads the multi-segment inputs as a <see cref="CompositeByteBuffer"/> of the same
/// pieces.</para>
/// <para>What each side does per operation:</para>
/// <list type="bullet">
/// <item><c>Ferry_Full</c>: <see cref="FrameDecoder.TryReadHeader"/> (prefix, limits, header slice), then
/// <see cref="FrameDecoder.ParseHeader"/> (UTF-8 validation, JSON parse, <c>cmd</c> interned, <c>bodysize</c> read), then
/// the body sliced off by the length the header declared. A header split across segments is first copied into a
/// reused scratch array, as <see cref="FrameReader"/> does.</item>
/// <item><c>Ferry_SplitOnly</c>: <see cref="FrameDecoder.TryReadHeader"/> alone, then the body skipped by a length the
/// benchmark knows. This is what a length-field decoder does, so it is the like-for-like comparison.</item>
/// <item><c>DotNetty_Split</c> (baseline): <see cref="LengthFieldBasedFrameDecoder"/> configured for Ferry's prefix
/// (little-endian, offset 0, length 4, strip 4, max 64 KiB of header as Ferry's default limit) returns the header
/// frame as a retained slice (released at once); the body is skipped by the known length. It neither validates nor
/// parses the JSON. Its <c>Decode(ctx, input)</c> is protected, so a subclass calls it directly: that is the cheapest
/// way to drive it (no channel, no pipeline, no cumulation buffer, no output list).</item>
/// <item><c>DotNetty_EmbeddedChannel</c> (small, single segment only): the same decoder inside an
/// <see cref="EmbeddedChannel"/>, fed the header frame (prefix + JSON, no body, because the channel would read the
/// body as the next frame). It shows what the channel pipeline adds and why the subclass is used as the baseline.</item>
/// </list>
/// </remarks>
[MemoryDiagnoser]
[MedianColumn]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class FrameDecodeBenchmarks
{
    private const string SmallSingle = "Small, 1 segment";
    private const string SmallMulti = "Small, 4 segments";
    private const string LargeSingle = "Large, 1 segment";
    private const string LargeMulti = "Large, 4 KiB segments";

    private readonly FrameLimits _limits = FrameLimits.Default;
    private readonly byte[] _scratch = new byte[FrameLimits.DefaultMaxHeaderBytes];

    private ReadOnlySequence<byte> _smallSingle;
    private ReadOnlySequence<byte> _smallMulti;
    private ReadOnlySequence<byte> _largeSingle;
    private ReadOnlySequence<byte> _largeMulti;

    private IByteBuffer _nettySmallSingle = null!;
    private IByteBuffer _nettySmallMulti = null!;
    private IByteBuffer _nettyLargeSingle = null!;
    private IByteBuffer _nettyLargeMulti = null!;
    private IByteBuffer _nettyHeaderOnly = null!;
    private DirectLengthFieldDecoder _nettyDecoder = null!;
    private EmbeddedChannel _channel = null!;

    [GlobalSetup]
    public void Setup()
    {
        var small = FrameData.Frame(FrameData.SmallBody);
        var large = FrameData.Frame(FrameData.LargeBody);
        var smallHeader = FrameData.EchoHeaderJson(FrameData.SmallBody).Length;
        // Cuts: after the prefix (4), in the JSON (4 + 10), in the body (4 + header + 20). Not inside the prefix:
        // DotNetty 0.7.6's CompositeByteBuffer.GetIntLE returns a wrong value when the 4 bytes span two components
        // (a 2|2 split of 1C 00 00 00 reads 0x001C0000), so its decoder would reject the frame as too long.
        var smallPieces = FrameData.Cut(small, [4, 4 + 10, 4 + smallHeader + 20]);
        var largePieces = FrameData.Cut(large, FrameData.Every(large.Length, 4096));

        _smallSingle = new ReadOnlySequence<byte>(small);
        _smallMulti = FrameData.Sequence(smallPieces);
        _largeSingle = new ReadOnlySequence<byte>(large);
        _largeMulti = FrameData.Sequence(largePieces);

        _nettySmallSingle = Unpooled.WrappedBuffer(small);
        _nettySmallMulti = Composite(smallPieces);
        _nettyLargeSingle = Unpooled.WrappedBuffer(large);
        _nettyLargeMulti = Composite(largePieces);
        _nettyHeaderOnly = Unpooled.WrappedBuffer(FrameData.Frame(FrameData.SmallBody, withBody: false));
        _nettyDecoder = new DirectLengthFieldDecoder();
        _channel = new EmbeddedChannel(DirectLengthFieldDecoder.Create());

        SelfCheck(smallHeader, FrameData.EchoHeaderJson(FrameData.LargeBody).Length);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _channel.Finish();
        _channel.CloseAsync().GetAwaiter().GetResult();
        foreach (var buffer in new[] { _nettySmallSingle, _nettySmallMulti, _nettyLargeSingle, _nettyLargeMulti, _nettyHeaderOnly })
            buffer.Release();
    }

    // ---- Small frame (64-byte body), one segment ----

    [Benchmark(Baseline = true), BenchmarkCategory(SmallSingle)]
    public int DotNetty_Split_Small_1Seg() => NettySplit(_nettySmallSingle, FrameData.SmallBody);

    [Benchmark, BenchmarkCategory(SmallSingle)]
    public int DotNetty_EmbeddedChannel_Small_1Seg()
    {
        // The channel releases its cumulation once it is read out; the retain keeps the shared input alive.
        _nettyHeaderOnly.SetReaderIndex(0);
        _nettyHeaderOnly.Retain();
        _channel.WriteInbound(_nettyHeaderOnly);
        var frame = _channel.ReadInbound<IByteBuffer>();
        var length = frame.ReadableBytes;
        frame.Release();
        return length;
    }

    [Benchmark, BenchmarkCategory(SmallSingle)]
    public long Ferry_SplitOnly_Small_1Seg() => FerrySplit(_smallSingle, FrameData.SmallBody);

    [Benchmark, BenchmarkCategory(SmallSingle)]
    public long Ferry_Full_Small_1Seg() => FerryFull(_smallSingle);

    // ---- Small frame, cut into 4 segments ----

    [Benchmark(Baseline = true), BenchmarkCategory(SmallMulti)]
    public int DotNetty_Split_Small_4Seg() => NettySplit(_nettySmallMulti, FrameData.SmallBody);

    [Benchmark, BenchmarkCategory(SmallMulti)]
    public long Ferry_SplitOnly_Small_4Seg() => FerrySplit(_smallMulti, FrameData.SmallBody);

    [Benchmark, BenchmarkCategory(SmallMulti)]
    public long Ferry_Full_Small_4Seg() => FerryFull(_smallMulti);

    // ---- Large frame (1 MiB body), one segment ----

    [Benchmark(Baseline = true), BenchmarkCategory(LargeSingle)]
    public int DotNetty_Split_Large_1Seg() => NettySplit(_nettyLargeSingle, FrameData.LargeBody);

    [Benchmark, BenchmarkCategory(LargeSingle)]
    public long Ferry_SplitOnly_Large_1Seg() => FerrySplit(_largeSingle, FrameData.LargeBody);

    [Benchmark, BenchmarkCategory(LargeSingle)]
    public long Ferry_Full_Large_1Seg() => FerryFull(_largeSingle);

    // ---- Large frame, 4 KiB segments (257 of them) ----

    [Benchmark(Baseline = true), BenchmarkCategory(LargeMulti)]
    public int DotNetty_Split_Large_4KSeg() => NettySplit(_nettyLargeMulti, FrameData.LargeBody);

    [Benchmark, BenchmarkCategory(LargeMulti)]
    public long Ferry_SplitOnly_Large_4KSeg() => FerrySplit(_largeMulti, FrameData.LargeBody);

    [Benchmark, BenchmarkCategory(LargeMulti)]
    public long Ferry_Full_Large_4KSeg() => FerryFull(_largeMulti);

    // ---- Large frame decoded into a destination buffer, against a plain copy of the same bytes ----

    private const string LargeCopy = "Large, decoded into a buffer";
    private byte[] _largeBytes = null!;
    private byte[] _destination = null!;

    [Benchmark(Baseline = true), BenchmarkCategory(LargeCopy)]
    public int Memcpy_Large()
    {
        _largeBytes ??= _largeSingle.ToArray();
        _destination ??= new byte[_largeBytes.Length];
        _largeBytes.AsSpan().CopyTo(_destination);
        return _destination[^1];
    }

    [Benchmark, BenchmarkCategory(LargeCopy)]
    public long Ferry_DecodeCopy_Large_1Seg() => FerryDecodeCopy(_largeSingle);

    [Benchmark, BenchmarkCategory(LargeCopy)]
    public long Ferry_DecodeCopy_Large_4KSeg() => FerryDecodeCopy(_largeMulti);

    /// <summary>What a receiver does with a large frame: validate and parse the header, then copy the body out.</summary>
    private long FerryDecodeCopy(ReadOnlySequence<byte> buffer)
    {
        _destination ??= new byte[_largeSingle.Length];
        if (!FrameDecoder.TryReadHeader(ref buffer, _limits, out var headerJson))
            throw new InvalidOperationException("Incomplete frame.");
        headerJson.CopyTo(_scratch);
        var header = FrameDecoder.ParseHeader(_scratch.AsMemory(0, (int)headerJson.Length), _limits);
        buffer.Slice(0, header.BodyLength).CopyTo(_destination);
        return header.BodyLength;
    }

    // ---- the operations ----

    private long FerryFull(ReadOnlySequence<byte> buffer)
    {
        if (!FrameDecoder.TryReadHeader(ref buffer, _limits, out var headerJson))
            throw new InvalidOperationException("Incomplete frame.");
        ReadOnlyMemory<byte> json;
        if (headerJson.IsSingleSegment)
        {
            json = headerJson.First;
        }
        else
        {
            headerJson.CopyTo(_scratch);
            json = _scratch.AsMemory(0, (int)headerJson.Length);
        }
        var header = FrameDecoder.ParseHeader(json, _limits);
        var rest = buffer.Slice(header.BodyLength); // the body is buffer.Slice(0, BodyLength)
        return rest.Length + header.Command.Length;
    }

    private long FerrySplit(ReadOnlySequence<byte> buffer, int bodyLength)
    {
        if (!FrameDecoder.TryReadHeader(ref buffer, _limits, out var headerJson))
            throw new InvalidOperationException("Incomplete frame.");
        var rest = buffer.Slice(bodyLength);
        return rest.Length + headerJson.Length;
    }

    private int NettySplit(IByteBuffer input, int bodyLength)
    {
        input.SetReaderIndex(0);
        var frame = (IByteBuffer?)_nettyDecoder.DecodeFrame(input) ?? throw new InvalidOperationException("Incomplete frame.");
        var length = frame.ReadableBytes;
        frame.Release();
        input.SkipBytes(bodyLength);
        return length + input.ReadableBytes;
    }

    private static CompositeByteBuffer Composite(byte[][] pieces)
    {
        var composite = Unpooled.CompositeBuffer(pieces.Length);
        composite.AddComponents(true, pieces.Select(p => (IByteBuffer)Unpooled.WrappedBuffer(p)));
        return composite;
    }

    /// <summary>Every variant must see the same frame; a wrong setup would make the numbers meaningless.</summary>
    private void SelfCheck(int smallHeader, int largeHeader)
    {
        Expect(DotNetty_Split_Small_1Seg(), smallHeader);
        Expect(DotNetty_Split_Small_4Seg(), smallHeader);
        Expect(DotNetty_Split_Large_1Seg(), largeHeader);
        Expect(DotNetty_Split_Large_4KSeg(), largeHeader);
        Expect(DotNetty_EmbeddedChannel_Small_1Seg(), smallHeader);
        Expect(DotNetty_EmbeddedChannel_Small_1Seg(), smallHeader);
        Expect(Ferry_SplitOnly_Small_1Seg(), smallHeader);
        Expect(Ferry_SplitOnly_Small_4Seg(), smallHeader);
        Expect(Ferry_SplitOnly_Large_1Seg(), largeHeader);
        Expect(Ferry_SplitOnly_Large_4KSeg(), largeHeader);
        Expect(Ferry_Full_Small_1Seg(), CommandNames.Echo.Length);
        Expect(Ferry_Full_Small_4Seg(), CommandNames.Echo.Length);
        Expect(Ferry_Full_Large_1Seg(), CommandNames.Echo.Length);
        Expect(Ferry_Full_Large_4KSeg(), CommandNames.Echo.Length);

        var header = FrameDecoder.ParseHeader(FrameData.EchoHeaderJson(FrameData.LargeBody), _limits);
        if (!ReferenceEquals(header.Command, CommandNames.Echo) || header.BodyLength != FrameData.LargeBody)
            throw new InvalidOperationException("ParseHeader did not read the echo header.");
        if (_nettySmallSingle.ReferenceCount != 1 || _nettySmallMulti.ReferenceCount != 1 || _nettyHeaderOnly.ReferenceCount != 1)
            throw new InvalidOperationException("A DotNetty buffer's reference count drifted.");

        static void Expect(long actual, long expected)
        {
            if (actual != expected)
                throw new InvalidOperationException($"Self-check failed: got {actual}, expected {expected}.");
        }
    }

    /// <summary>Exposes the protected single-frame <c>Decode</c> of DotNetty's decoder.</summary>
    private sealed class DirectLengthFieldDecoder : LengthFieldBasedFrameDecoder
    {
        public DirectLengthFieldDecoder()
            : base(ByteOrder.LittleEndian, MaxFrameLength, lengthFieldOffset: 0, lengthFieldLength: 4, lengthAdjustment: 0,
                initialBytesToStrip: 4, failFast: true)
        {
        }

        /// <summary>The frame length DotNetty checks includes the 4-byte prefix: this matches Ferry's header limit.</summary>
        private const int MaxFrameLength = FrameLimits.DefaultMaxHeaderBytes + 4;

        // The context is not used on this path (ExtractFrame only slices the input).
        public object? DecodeFrame(IByteBuffer input) => Decode(null!, input);

        public static LengthFieldBasedFrameDecoder Create() =>
            new(ByteOrder.LittleEndian, MaxFrameLength, 0, 4, 0, 4, true);
    }
}
