using System.Buffers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Server.Storage;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace Ferry.Server.Handlers.Sync;

/// <summary>The zstd encoding of put_data and file bodies (docs/protocol.md §5.9.4).</summary>
internal static class CompressedData
{
    public const string Zstd = "zstd";

    /// <summary>Largest decompressed put_data body: the server holds one such buffer per connection while it writes it.</summary>
    public const int MaxRawSize = 16 * 1024 * 1024;

    /// <summary>Block size of a compressed get: each block is its own file frame.</summary>
    public const int GetBlockSize = 4 * 1024 * 1024;

    /// <summary>The window a frame may ask for: none larger than the largest body is needed.</summary>
    private const int MaxWindowLog = 24;

    /// <summary>A compressed body is never longer than zstd's bound for the largest raw size.</summary>
    private static readonly int s_maxBodySize = Compressor.GetCompressBound(MaxRawSize);

    /// <summary>
    /// Reads a zstd body of <paramref name="bodyLength"/> bytes, decompresses it into exactly <paramref name="rawSize"/>
    /// bytes (any other length, or a body that is not zstd, is field_invalid) and writes them at <paramref name="offset"/>.
    /// </summary>
    public static async ValueTask ToUploadAsync(FrameReader reader, long bodyLength, int rawSize, IUpload upload, long offset, CancellationToken cancellationToken)
    {
        if (bodyLength > s_maxBodySize)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"A zstd body of {bodyLength} bytes is longer than any frame of at most {MaxRawSize} bytes.");
        var body = ArrayPool<byte>.Shared.Rent((int)Math.Max(1, bodyLength));
        // One byte more than promised: a frame that decompresses to more than rawsize is caught, not cut.
        var raw = ArrayPool<byte>.Shared.Rent(rawSize + 1);
        try
        {
            var filled = 0;
            while (filled < bodyLength)
            {
                var n = await reader.ReadBodyAsync(body.AsMemory(filled, (int)bodyLength - filled), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    throw new FerryException(FerryErrorCode.FieldInvalid, "The zstd body ended early.");
                filled += n;
            }
            var written = Decompress(body.AsSpan(0, filled), raw.AsSpan(0, rawSize + 1));
            if (written != rawSize)
                throw new FerryException(FerryErrorCode.FieldInvalid, $"The zstd body decompresses to {(written < 0 ? "more than " + rawSize : written)} bytes, not the {rawSize} of 'rawsize'.");
            await upload.WriteAsync(raw.AsMemory(0, rawSize), offset, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
            ArrayPool<byte>.Shared.Return(raw);
        }
    }

    /// <summary>Decompresses into <paramref name="destination"/>; -1 when it does not fit.</summary>
    private static int Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        using var decompressor = new Decompressor();
        decompressor.SetParameter(ZSTD_dParameter.ZSTD_d_windowLogMax, MaxWindowLog);
        try
        {
            return decompressor.TryUnwrap(source, destination, out var written) ? written : -1;
        }
        catch (ZstdException ex)
        {
            throw new FerryException(FerryErrorCode.FieldInvalid, $"The put_data body is not valid zstd: {ex.Message}");
        }
    }

    /// <summary>Compresses <paramref name="source"/> into <paramref name="destination"/>; 0 when that does not make it smaller.</summary>
    public static int TryCompress(Compressor compressor, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var room = Math.Min(destination.Length, source.Length - 1);
        if (room <= 0)
            return 0;
        return compressor.TryWrap(source, destination[..room], out var written) ? written : 0;
    }
}
