using System.Buffers;
using System.IO.Pipelines;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;

namespace Ferry.Fuzz;

/// <summary>
/// The input is a byte stream as a peer would send it: any number of frames, possibly broken. It is decoded with
/// <see cref="FrameDecoder"/> over several segment layouts and with <see cref="FrameReader"/> over a pipe fed whole and in
/// small reads. Expected: <see cref="FerryProtocolException"/>s (fatal ones end the stream). Invariants: every layout and
/// both decoders see the same frames and errors; a header slice is 1 to MaxHeaderBytes long; an incomplete header
/// consumes nothing; a parsed header has a command and a non-negative body length.
/// </summary>
internal static class FrameTarget
{
    private static readonly FrameLimits s_limits = FrameLimits.Default;

    public static void Run(byte[] input)
    {
        var expected = Decode(new ReadOnlySequence<byte>(input));
        foreach (var cuts in Layouts(input.Length))
            Invariant.Equal(expected, Decode(Segments.Split(input, cuts)), $"segments cut at [{string.Join(',', cuts)}] decode differently");

        Invariant.Equal(expected, ReadWithFrameReader(PipeReader.Create(new ReadOnlySequence<byte>(input))),
            "FrameReader over the whole input disagrees with FrameDecoder");
        Invariant.Equal(expected, ReadWithFrameReader(PipeReader.Create(new TrickleStream(input, 3), new StreamPipeReaderOptions(bufferSize: 16, minimumReadSize: 1))),
            "FrameReader over 3-byte reads disagrees with FrameDecoder");
    }

    private static IEnumerable<int[]> Layouts(int length)
    {
        foreach (var cut in new[] { 1, 2, 3, 4, 5, 6, length / 2, length - 1 }.Distinct())
        {
            if (cut > 0 && cut < length)
                yield return [cut];
        }
        if (length > 1 && length <= 4096)
            yield return Segments.Every(length, 1);
        yield return Segments.Every(length, 7);
    }

    /// <summary>What a reader sees, one line per frame or error; error messages are left out (they may name offsets).</summary>
    private static List<string> Decode(ReadOnlySequence<byte> buffer)
    {
        var seen = new List<string>();
        while (true)
        {
            var before = buffer;
            bool complete;
            ReadOnlySequence<byte> headerJson;
            try
            {
                complete = FrameDecoder.TryReadHeader(ref buffer, s_limits, out headerJson);
            }
            catch (FerryProtocolException ex)
            {
                Invariant.That(ex.IsFatal, "a bad length prefix must be fatal");
                seen.Add(Describe(ex));
                return seen;
            }
            if (!complete)
            {
                Invariant.That(buffer.Length == before.Length, "an incomplete header must consume nothing");
                if (!buffer.IsEmpty)
                    seen.Add("truncated");
                return seen;
            }
            Invariant.That(headerJson.Length is >= 1 and <= FrameLimits.DefaultMaxHeaderBytes, $"header slice of {headerJson.Length} bytes");
            Invariant.That(before.Length - buffer.Length == FrameDecoder.PrefixLength + headerJson.Length, "header consumed a wrong number of bytes");

            long bodyLength;
            try
            {
                var json = headerJson.ToArray();
                var header = FrameDecoder.ParseHeader(json, s_limits);
                Invariant.That(header.Command is not null, "a parsed header has a command");
                Invariant.That(header.BodyLength >= 0, "a parsed header has a non-negative body length");
                Invariant.That(header.Json.Span.SequenceEqual(json), "FrameHeader.Json is the header bytes");
                seen.Add(Describe(header));
                bodyLength = header.BodyLength;
            }
            catch (FerryProtocolException ex)
            {
                seen.Add(Describe(ex));
                if (ex.IsFatal)
                    return seen;
                Invariant.That(ex.DeclaredBodyLength >= 0, "a declared body length is non-negative");
                bodyLength = ex.DeclaredBodyLength;
            }

            if (buffer.Length < bodyLength)
            {
                seen.Add("truncated");
                return seen;
            }
            buffer = buffer.Slice(bodyLength);
        }
    }

    private static List<string> ReadWithFrameReader(PipeReader pipe)
    {
        using var reader = new FrameReader(pipe, s_limits, FrameReadTimeouts.None);
        var seen = new List<string>();
        while (true)
        {
            FrameHeader? header;
            try
            {
                // The input is all there: nothing waits, so blocking here cannot hang.
                header = reader.ReadFrameAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
            }
            catch (FerryProtocolException ex) when (ex.Code == FerryErrorCode.TruncatedFrame)
            {
                seen.Add("truncated");
                return seen;
            }
            catch (FerryProtocolException ex)
            {
                seen.Add(Describe(ex));
                if (ex.IsFatal)
                    return seen;
                continue;
            }
            if (header is not { } frame)
                return seen;
            seen.Add(Describe(frame));
        }
    }

    private static string Describe(FrameHeader header) => $"frame cmd={header.Command} body={header.BodyLength} header={header.Json.Length}B";

    private static string Describe(FerryProtocolException ex) => $"error {ex.Code.ToWire()}{(ex.IsFatal ? " fatal" : "")} skip={ex.DeclaredBodyLength}";

    /// <summary>A stream that hands out at most a few bytes per read, like a slow socket.</summary>
    private sealed class TrickleStream(byte[] data, int maxRead) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = Math.Min(Math.Min(maxRead, buffer.Length), data.Length - _position);
            data.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
