using System.Buffers;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Microsoft.Win32.SafeHandles;
using ZstdSharp;

namespace Ferry.Client;

// The one range sender and the one range receiver: every byte of file data a put, a get, a tree, a parallel stream or
// a sync moves goes through SendRangeAsync (put_data frames, §5.2) or ReceiveRangeAsync (file frames, §5.3, §5.9.4).
public sealed partial class FerryClient
{
    /// <summary>Ranges of a parallel transfer are cut on this boundary.</summary>
    private const long StreamAlignment = 1024 * 1024;

    /// <summary>Most connections one parallel transfer opens.</summary>
    private const int MaxStreams = 64;

    /// <summary>zstd level for compressed data frames: fast, since the data path must keep up with the network.</summary>
    private const int CompressionLevel = 3;

    /// <summary>
    /// Sends [<paramref name="start"/>, start+<paramref name="length"/>) of <paramref name="handle"/> as put_data frames
    /// for upload <paramref name="id"/>: read into a pooled buffer, appended to <paramref name="hasher"/> (raw bytes, in
    /// order), handed to the frame writer (which sees every body byte, as a frame MAC needs). With
    /// <see cref="RangeShaping.Compress"/> each block goes as its own zstd frame, or raw when it does not shrink. A file
    /// that ends early, or a server that stops reading, breaks the connection: a frame cannot be cut short. Calls
    /// <paramref name="sent"/> with the raw bytes of each block sent; returns the body bytes written (after compression).
    /// </summary>
    internal async Task<long> SendRangeAsync(long id, SafeFileHandle handle, string localPath, long start, long length,
        ChecksumAlgorithm.Hasher? hasher, Action<long>? sent, RangeShaping shaping, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(IoBlockSize);
        byte[]? packed = shaping.Compress ? ArrayPool<byte>.Shared.Rent(Compressor.GetCompressBound(IoBlockSize)) : null;
        using var compressor = shaping.Compress ? new Compressor(CompressionLevel) : null;
        var wire = 0L;
        try
        {
            while (length > 0)
            {
                if (compressor is not null)
                {
                    // One block per frame, so the receiver can decompress each on its own (§5.9.4).
                    var want = (int)Math.Min(IoBlockSize, length);
                    ReadRangeBlock(handle, localPath, buffer.AsSpan(0, want), start, ct);
                    hasher?.Append(buffer.AsSpan(0, want));
                    var size = compressor.Wrap(buffer.AsSpan(0, want), packed);
                    var body = size < want ? packed.AsMemory(0, size) : buffer.AsMemory(0, want);
                    _writer.WriteHeader(new PutDataMessage
                    {
                        Id = id,
                        Offset = start,
                        BodySize = body.Length,
                        Encoding = size < want ? RangeShaping.Zstd : null,
                        RawSize = size < want ? want : null,
                    }, FerryJsonContext.Default.PutDataMessage, body.Length);
                    await WriteDataBodyAsync(body, shaping, ct).ConfigureAwait(false);
                    wire += body.Length;
                    start += want;
                    length -= want;
                    sent?.Invoke(want);
                    continue;
                }

                var frame = Math.Min(length, PutDataFrameBytes);
                _writer.WriteHeader(new PutDataMessage { Id = id, Offset = start, BodySize = frame }, FerryJsonContext.Default.PutDataMessage, frame);
                for (long done = 0; done < frame;)
                {
                    var want = (int)Math.Min(IoBlockSize, frame - done);
                    ReadRangeBlock(handle, localPath, buffer.AsSpan(0, want), start + done, ct);
                    hasher?.Append(buffer.AsSpan(0, want));
                    await WriteDataBodyAsync(buffer.AsMemory(0, want), shaping, ct).ConfigureAwait(false);
                    done += want;
                    sent?.Invoke(want);
                }
                wire += frame;
                start += frame;
                length -= frame;
            }
            return wire;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (packed is not null)
                ArrayPool<byte>.Shared.Return(packed);
        }
    }

    private void ReadRangeBlock(SafeFileHandle handle, string localPath, Span<byte> block, long position, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var n = LocalFiles.ReadFully(handle, block, position);
        if (n < block.Length)
            throw Break(new IOException($"'{localPath}' shrank while being uploaded; the connection was closed because the frame could not be completed."));
    }

    private async Task WriteDataBodyAsync(ReadOnlyMemory<byte> body, RangeShaping shaping, CancellationToken ct)
    {
        if (shaping.Limiter is { } limiter)
            await limiter.TakeAsync(body.Length, ct).ConfigureAwait(false);
        var flushed = await _writer.WriteBodyAsync(body, ct).ConfigureAwait(false);
        if (flushed.IsCompleted)
            throw Break(new IOException("The server stopped reading the upload."));
    }

    /// <summary>
    /// Reads the reply to <c>get</c> <paramref name="id"/> (asked from <paramref name="offset"/>, <paramref name="length"/>
    /// bytes or to the end): its <c>file</c> frame(s) and their bodies, then <c>done</c>. <paramref name="openSink"/> gets the
    /// first <c>file</c> frame and returns where the data goes; a local failure there or while writing is kept in
    /// <see cref="ReceivedRange.LocalError"/> while the body is still read to its end, so the connection stays in step.
    /// zstd blocks (§5.9.4) are decompressed and checked against their raw size. A reply that does not add up breaks the
    /// connection; an error frame in place of <c>file</c> is thrown as <see cref="FerryRemoteException"/>.
    /// </summary>
    internal async Task<ReceivedRange> ReceiveRangeAsync(long id, string remotePath, long offset, long? length,
        Func<FileDataMessage, CancellationToken, ValueTask<FileSink>> openSink, Action<long>? received, RangeShaping shaping, CancellationToken ct)
    {
        var header = await ReadReplyAsync(CommandNames.FileData, ct).ConfigureAwait(false);
        var first = header.Deserialize(FerryJsonContext.Default.FileDataMessage);
        if (first.Id != id)
            throw Break(new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                $"The server answered download {first.Id} where download {id} was expected.", isFatal: true));
        // A whole-file get may start before the offset asked (the server may not keep a resume point); a range may not.
        var startOk = length is null ? first.Offset <= offset : first.Offset == offset;
        if (first.Size < 0 || first.Offset < 0 || first.Offset > first.Size || !startOk)
            throw Break(Malformed(remotePath, $"size {first.Size}, offset {first.Offset}, asked from {offset}"));
        var end = length is { } wanted ? Math.Min(first.Size, offset + wanted) : first.Size;

        Exception? localError = null;
        FileSink? sink = null;
        try
        {
            sink = await openSink(first, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            localError = ex;
        }

        var position = first.Offset;
        var wire = 0L;
        try
        {
            var frame = first;
            while (true)
            {
                var zstd = frame.Encoding == RangeShaping.Zstd;
                var raw = zstd ? frame.RawSize ?? -1 : header.BodyLength;
                if (frame.Offset != position || (frame.Encoding is not null && !zstd) || raw < 0 || position + raw > end
                    || (zstd && (raw is 0 or > RangeShaping.MaxRawBlock || header.BodyLength > Compressor.GetCompressBound(RangeShaping.MaxRawBlock)))
                    || (raw == 0 && position != end))
                    throw Break(Malformed(remotePath, $"a block of {raw} bytes at {frame.Offset} (encoding {frame.Encoding ?? "none"}, body {header.BodyLength}) where byte {position} of [{first.Offset}, {end}) was next"));
                if (zstd)
                {
                    if (shaping.Limiter is { } limiter)
                        await limiter.TakeAsync(header.BodyLength, ct).ConfigureAwait(false);
                    localError = await ReceiveCompressedBlockAsync(header.BodyLength, (int)raw, remotePath, sink, localError, ct).ConfigureAwait(false);
                }
                else
                {
                    localError = await ReceiveRawBodyAsync(sink, localError, received, shaping.Limiter, ct).ConfigureAwait(false);
                }
                if (zstd)
                    received?.Invoke(raw);
                wire += header.BodyLength;
                position += raw;
                if (position == end)
                    break;
                header = await ReadReplyAsync(CommandNames.FileData, ct).ConfigureAwait(false);
                frame = header.Deserialize(FerryJsonContext.Default.FileDataMessage);
                if (frame.Id != id || frame.Size != first.Size)
                    throw Break(Malformed(remotePath, $"a later block of download {frame.Id} says size {frame.Size}"));
            }
            if (sink is not null && localError is null)
            {
                try
                {
                    await sink.FlushAsync(ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    localError = ex;
                }
            }
        }
        finally
        {
            if (sink is not null)
                await sink.DisposeAsync().ConfigureAwait(false);
        }
        var done = await ReadReplyAsync(CommandNames.Done, FerryJsonContext.Default.TransferDoneMessage, ct).ConfigureAwait(false);
        if (done.Id != id)
            throw Break(new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                $"The server finished download {done.Id} where download {id} was expected.", isFatal: true));
        return new ReceivedRange(first, done, wire, position - first.Offset, localError);
    }

    private static FerryProtocolException Malformed(string remotePath, string what) =>
        new(FerryErrorCode.FieldInvalid, $"The server's reply for '{remotePath}' does not add up: {what}.", isFatal: true);

    /// <summary>
    /// Streams the current body into <paramref name="sink"/>: received straight into the sink's buffer (one copy out of
    /// the socket, reads of up to the sink's buffer size), or, once writing failed, read and dropped. A
    /// <paramref name="limiter"/> is charged read by read, not for the whole body up front: a whole-file body can be
    /// gigabytes, and charging it at once would wait first and then take it at full speed.
    /// </summary>
    private async Task<Exception?> ReceiveRawBodyAsync(FileSink? sink, Exception? localError, Action<long>? received, BandwidthLimiter? limiter, CancellationToken ct)
    {
        while (_reader.BodyRemaining > 0)
        {
            if (sink is not null && localError is null)
            {
                var n = await _reader.ReadBodyDirectAsync(_stream, sink.GetMemory(), ct).ConfigureAwait(false);
                if (limiter is not null)
                    await limiter.TakeAsync(n, ct).ConfigureAwait(false);
                try
                {
                    await sink.AdvanceAsync(n, ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    localError = ex; // keep reading: the body must be consumed for the connection to stay in step
                }
                received?.Invoke(n);
                continue;
            }
            var chunk = await _reader.ReadBodyChunkAsync(ct).ConfigureAwait(false);
            var length = chunk.Length;
            _reader.AdvanceBody(chunk, length);
            if (limiter is not null)
                await limiter.TakeAsync(length, ct).ConfigureAwait(false);
            received?.Invoke(length);
        }
        return localError;
    }

    private async Task<Exception?> ReceiveCompressedBlockAsync(long bodyLength, int raw, string remotePath, FileSink? sink, Exception? localError, CancellationToken ct)
    {
        var packed = ArrayPool<byte>.Shared.Rent((int)Math.Max(1, bodyLength));
        var plain = ArrayPool<byte>.Shared.Rent(raw);
        try
        {
            for (var filled = 0; filled < bodyLength;)
                filled += await _reader.ReadBodyAsync(packed.AsMemory(filled, (int)bodyLength - filled), ct).ConfigureAwait(false);
            int size;
            try
            {
                using var decompressor = new Decompressor();
                size = decompressor.Unwrap(packed.AsSpan(0, (int)bodyLength), plain.AsSpan(0, raw));
            }
            catch (ZstdException ex)
            {
                throw Break(new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The server sent a zstd block for '{remotePath}' that does not decompress: {ex.Message}", isFatal: true, ex));
            }
            if (size != raw)
                throw Break(Malformed(remotePath, $"a zstd block of {size} bytes that claims {raw}"));
            if (sink is not null && localError is null)
            {
                try
                {
                    await sink.WriteAsync(new ReadOnlySequence<byte>(plain, 0, raw), ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    localError = ex;
                }
            }
            return localError;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(packed);
            ArrayPool<byte>.Shared.Return(plain);
        }
    }

    /// <summary>Cuts [<paramref name="start"/>, <paramref name="end"/>) into up to <paramref name="streams"/> ranges on 1 MiB boundaries (at least one).</summary>
    internal static List<(long Offset, long Length)> Ranges(long start, long end, int streams)
    {
        streams = Math.Clamp(streams, 1, MaxStreams);
        var size = end - start;
        var step = Math.Max(StreamAlignment, (size / streams + StreamAlignment - 1) / StreamAlignment * StreamAlignment);
        var ranges = new List<(long, long)>();
        for (long offset = start; offset < end || ranges.Count == 0; offset += step)
            ranges.Add((offset, Math.Min(step, end - offset)));
        return ranges;
    }

    /// <summary>
    /// Runs <paramref name="work"/> on this connection for the first range and on a new connection to the same server
    /// (same options) for each other range, all at once. Each extra connection is an ordinary client: its exchanges
    /// follow the one rule for broken connections, and it is closed at the end. The first failure cancels the others.
    /// </summary>
    private async Task OverConnectionsAsync(IReadOnlyList<(long Offset, long Length)> ranges,
        Func<FerryClient, (long Offset, long Length), CancellationToken, Task> work, CancellationToken cancellationToken)
    {
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var helpers = new List<FerryClient>();
        try
        {
            async Task Run(FerryClient? client, (long, long) range)
            {
                try
                {
                    if (client is null)
                    {
                        client = await ConnectAsync(Address, Options, failed.Token).ConfigureAwait(false);
                        lock (helpers)
                            helpers.Add(client);
                    }
                    // A range cut short (by its own failure or another's) leaves its connection out of step: broken.
                    await client.RunAsync(async ct =>
                    {
                        await work(client, range, ct).ConfigureAwait(false);
                        return true;
                    }, failed.Token).ConfigureAwait(false);
                }
                catch
                {
                    await failed.CancelAsync().ConfigureAwait(false);
                    throw;
                }
            }

            var runs = new List<Task> { Run(this, ranges[0]) };
            for (var i = 1; i < ranges.Count; i++)
            {
                var range = ranges[i];
                runs.Add(Task.Run(() => Run(null, range), CancellationToken.None));
            }
            var all = Task.WhenAll(runs);
            try
            {
                await all.ConfigureAwait(false);
            }
            catch
            {
                // The cause, not a cancellation it caused elsewhere.
                var cause = all.Exception?.InnerExceptions.FirstOrDefault(e => e is not OperationCanceledException) ?? all.Exception?.InnerException;
                if (cause is not null)
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(cause);
                throw;
            }
        }
        finally
        {
            foreach (var helper in helpers)
                await helper.DisposeAsync().ConfigureAwait(false);
        }
    }
}
