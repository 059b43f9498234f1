using System.Text;

namespace Ferry.Client.Exec;

/// <summary>
/// Converts a byte stream from one text encoding to another as it flows, through fixed buffers: a character split
/// across two writes (a GBK or UTF-8 sequence cut at a frame boundary) is kept by the decoder until its rest arrives.
/// Bytes that are not valid in the source encoding become U+FFFD (or the target encoding's replacement).
/// </summary>
internal sealed class OutputTranscoder
{
    private const int CharBufferSize = 4096;
    private readonly Decoder _decoder;
    private readonly Encoder _encoder;
    private readonly char[] _chars = new char[CharBufferSize];
    private readonly byte[] _bytes;

    public OutputTranscoder(Encoding from, Encoding to)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        // Bytes that are not text in the source become U+FFFD, the one replacement every terminal shows as such.
        var source = (Encoding)from.Clone();
        source.DecoderFallback = new DecoderReplacementFallback("\uFFFD");
        _decoder = source.GetDecoder();
        _encoder = to.GetEncoder();
        _bytes = new byte[to.GetMaxByteCount(CharBufferSize)];
    }

    /// <summary>
    /// The encoding named <paramref name="name"/> (web name such as utf-8, gbk, shift_jis, windows-1252, or a code page
    /// number), with the Windows code pages available; null when this runtime does not know it.
    /// </summary>
    public static Encoding? FindEncoding(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
            return null;
        EnsureCodePages();
        try
        {
            return int.TryParse(name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var codePage)
                ? Encoding.GetEncoding(codePage)
                : Encoding.GetEncoding(name.Trim());
        }
        catch (ArgumentException)
        {
            return null;
        }
        catch (NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>Whether text in <paramref name="a"/> is byte for byte text in <paramref name="b"/>.</summary>
    public static bool SameEncoding(Encoding a, Encoding b) => a.CodePage == b.CodePage;

    /// <summary>Makes the Windows code pages (gbk, shift_jis, windows-125x…) available to <see cref="Encoding.GetEncoding(string)"/>.</summary>
    public static void EnsureCodePages() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    /// <summary>Converts <paramref name="input"/> and writes the result to <paramref name="destination"/>; an incomplete trailing character waits for the next call.</summary>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> input, Stream destination, CancellationToken cancellationToken)
    {
        while (!input.IsEmpty)
        {
            var produced = ConvertChunk(input.Span, flush: false, out var consumed);
            input = input[consumed..];
            if (produced > 0)
                await destination.WriteAsync(_bytes.AsMemory(0, produced), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Ends the stream: a character left incomplete is written as a replacement character.</summary>
    public async ValueTask FinishAsync(Stream destination, CancellationToken cancellationToken)
    {
        var produced = ConvertChunk([], flush: true, out _);
        if (produced > 0)
            await destination.WriteAsync(_bytes.AsMemory(0, produced), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Converts as much of <paramref name="input"/> as one buffer holds; returns the bytes produced in <c>_bytes</c>.</summary>
    private int ConvertChunk(ReadOnlySpan<byte> input, bool flush, out int consumed)
    {
        // The byte buffer holds the encoding of a full char buffer, so every decoded char is encoded at once.
        _decoder.Convert(input, _chars, flush, out consumed, out var chars, out var decoderDone);
        _encoder.Convert(_chars.AsSpan(0, chars), _bytes, flush && decoderDone && consumed == input.Length, out var used, out var produced, out _);
        if (used != chars)
            throw new InvalidOperationException("The output buffer could not hold the converted text."); // cannot happen: sized by GetMaxByteCount
        return produced;
    }

    /// <summary>Converts <paramref name="input"/> synchronously; with <paramref name="flush"/>, also ends the stream.</summary>
    public byte[] Convert(ReadOnlySpan<byte> input, bool flush)
    {
        using var output = new MemoryStream();
        do
        {
            var produced = ConvertChunk(input, flush, out var consumed);
            output.Write(_bytes, 0, produced);
            input = input[consumed..];
        }
        while (!input.IsEmpty);
        return output.ToArray();
    }
}
