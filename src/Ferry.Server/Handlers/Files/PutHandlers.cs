using System.Buffers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Diagnostics;
using Ferry.Server.Storage;

namespace Ferry.Server.Handlers.Files;

/// <summary>Opens an upload (docs/protocol.md §5.2), or stores a classic tutorial upload in one go (§5.7).</summary>
internal sealed class PutHandler(SharedUploads shared, FerryMetrics metrics, Sync.DeltaUploads deltas) : ICommandHandler
{
    /// <summary>Size of the chunks whose hashes let a resumed upload skip data the server already has.</summary>
    public const int ChunkSize = 4 * 1024 * 1024;

    /// <summary>Uploads one connection may hold open at once (a pipelining client's batch).</summary>
    public const int MaxOpenUploads = 4096;

    public string Command => CommandNames.Put;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Write;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var put = context.Header.Deserialize(FerryJsonContext.Default.PutMessage);
        if (put.Path is null && put.FileName is not null)
        {
            await ClassicUploadAsync(context, put, metrics, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (context.Header.BodyLength != 0 && put.Basis is null)
            throw new FerryException(FerryErrorCode.FieldInvalid, "A put with 'path' carries no body; send the data with put_data.");
        var path = RemotePath.Normalize(put.Path);
        if (put.Id is not { } id)
            throw new FerryException(FerryErrorCode.FieldInvalid, "A put needs an integer 'id'.");
        if (put.Size is not { } size)
            throw new FerryException(FerryErrorCode.FieldInvalid, "A put needs an integer 'size'.");
        if (size < 0)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"'size' must not be negative (got {size}).");
        var checksum = ChecksumAlgorithm.FromName(put.Checksum);
        var uploads = context.Session.Uploads;
        // A two-level delta put waiting for put_chunks (§5.9.6) holds its id and counts as open.
        if (uploads.ContainsKey(id) || context.Session.GroupedPuts.ContainsKey(id))
            throw new FerryException(FerryErrorCode.FieldInvalid, $"Upload id {id} is already open on this connection.");
        if (uploads.Count + context.Session.GroupedPuts.Count >= MaxOpenUploads)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"At most {MaxOpenUploads} uploads may be open at once on one connection.");

        var modified = Sync.SyncFields.ModifiedTime(put.ModifiedUnixSeconds, put.ModifiedNs, "put");
        Sync.SyncFields.CheckMode(put.Mode);
        var request = new UploadRequest(path, size, checksum, put.Force, put.Resume && !put.Shared, modified, ChunkSize, ConcurrentWrites: put.Shared,
            Mode: put.Mode, ModifiedNs: put.ModifiedNs);
        if (put.Basis is not null)
        {
            await deltas.BeginAsync(context, put, id, request, cancellationToken).ConfigureAwait(false);
            return;
        }
        IUpload upload = new MeteredUpload(await context.Session.Store.BeginUploadAsync(request, cancellationToken).ConfigureAwait(false), metrics);
        string? token = null;
        if (put.Shared)
        {
            token = shared.Add(upload, context.Session.User?.Name);
            upload = new SharedUploads.Owner(upload, shared, token);
        }
        uploads.Add(id, new OpenUpload(upload));

        var hashes = upload.ResumeChunkHashes;
        context.Writer.WriteHeader(new PutReadyMessage
        {
            Id = id,
            Offset = upload.ResumeOffset,
            ChunkSize = ChunkSize,
            BodySize = hashes.Length,
            Token = token,
        }, FerryJsonContext.Default.PutReadyMessage, hashes.Length);
        context.Writer.WriteBody(hashes.Span);
    }

    /// <summary>
    /// The tutorial client's upload: header then all bytes, no checksum, no hello. Still atomic: the bytes go to a
    /// temporary file that is renamed into place only once all of them arrived.
    /// </summary>
    private static async ValueTask ClassicUploadAsync(CommandContext context, PutMessage put, FerryMetrics metrics, CancellationToken cancellationToken)
    {
        var path = RemotePath.Normalize(put.FileName);
        var size = context.Header.BodyLength;
        var upload = new MeteredUpload(await context.Session.Store.BeginUploadAsync(
            new UploadRequest(path, size, ChecksumAlgorithm.Default, Force: true, Resume: false, ModifiedTime: null, ChunkSize), cancellationToken).ConfigureAwait(false),
            metrics);
        await using (upload.ConfigureAwait(false))
        {
            var hash = await BodyCopy.ToCommitOrNothingAsync(context.Reader, upload, expectedHash: null, cancellationToken).ConfigureAwait(false);
            if (!context.Session.IsClassic)
            {
                context.Writer.WriteHeader(new TransferDoneMessage
                {
                    Path = path,
                    Size = size,
                    Checksum = ChecksumAlgorithm.Default.Name,
                    Hash = Convert.ToHexStringLower(hash),
                }, FerryJsonContext.Default.TransferDoneMessage);
            }
        }
    }
}

/// <summary>Writes a put_data body into its upload. Never answers; a failure waits for put_end.</summary>
internal sealed class PutDataHandler : ICommandHandler
{
    public string Command => CommandNames.PutData;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Write;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var data = context.Header.Deserialize(FerryJsonContext.Default.PutDataMessage);
        if (!context.Session.Uploads.TryGetValue(data.Id, out var open) || open.Failure is not null)
            return; // the dispatcher skips the body; put_end reports the problem

        try
        {
            var compressed = data.Encoding is not null;
            if (compressed && data.Encoding != Sync.CompressedData.Zstd)
                throw new FerryException(FerryErrorCode.FieldInvalid, $"Unknown put_data encoding '{data.Encoding}'; the server knows 'zstd'.");
            var length = compressed ? data.RawSize ?? -1 : context.Header.BodyLength;
            if (compressed && (length < 0 || length > Sync.CompressedData.MaxRawSize))
                throw new FerryException(FerryErrorCode.FieldInvalid, $"A zstd put_data needs 'rawsize' from 0 to {Sync.CompressedData.MaxRawSize} (got {data.RawSize?.ToString() ?? "none"}).");
            if (data.Offset < 0 || data.Offset > open.Upload.Request.Size - length)
                throw new FerryException(FerryErrorCode.FieldInvalid,
                    $"put_data at offset {data.Offset} with {length} bytes does not fit a file of {open.Upload.Request.Size} bytes.");
            if (open.Delta is { } delta && !delta.IsNeeded(data.Offset, length))
                throw new FerryException(FerryErrorCode.FieldInvalid,
                    $"put_data at offset {data.Offset} with {length} bytes is outside the ranges the server asked for.");
            // The copies before this range are made first (those the ranges before it allow), so the file is written in order.
            if (open.Delta is { } assembling)
                await assembling.Assembly.AdvanceAsync(cancellationToken).ConfigureAwait(false);
            if (compressed)
                await Sync.CompressedData.ToUploadAsync(context.Reader, context.Header.BodyLength, (int)length, open.Upload, data.Offset, cancellationToken).ConfigureAwait(false);
            else
                await BodyCopy.ToUploadAsync(context.Reader, open.Upload, data.Offset, cancellationToken).ConfigureAwait(false);
            open.Delta?.Assembly.Received(data.Offset, length);
        }
        catch (FerryException ex) when (ex is not FerryProtocolException)
        {
            open.Failure = ex;
        }
    }
}

/// <summary>Verifies and commits an upload (§5.2).</summary>
internal sealed class PutEndHandler(Sync.CommittedFileDigests committedDigests) : ICommandHandler
{
    public string Command => CommandNames.PutEnd;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Write;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var end = context.Header.Deserialize(FerryJsonContext.Default.PutEndMessage);
        if (!context.Session.Uploads.Remove(end.Id, out var open))
            throw new FerryException(FerryErrorCode.UnknownTransfer, $"No upload with id {end.Id} is open on this connection.");
        await using var delta = open.Delta; // the files a delta put copies from, however it ends

        if (end.Part)
        {
            // A joined connection's ranges are on disk (this connection's frames were handled in order); the opener commits.
            if (open.Upload is not SharedUploads.Joined)
                throw new FerryException(FerryErrorCode.FieldInvalid, "'part' ends a joined upload; the connection that opened it ends it with its hash.");
            if (open.Failure is not null)
                throw open.Failure;
            context.Writer.WriteHeader(new TransferDoneMessage { Id = end.Id, Path = open.Upload.Request.Path, Size = open.Upload.Request.Size },
                FerryJsonContext.Default.TransferDoneMessage);
            return;
        }

        await using (open.Upload.ConfigureAwait(false))
        {
            if (open.Upload is SharedUploads.Joined)
                throw new FerryException(FerryErrorCode.FieldInvalid, "Only the connection that opened a shared upload can commit it; end a joined one with 'part'.");
            if (open.Failure is not null)
            {
                await open.Upload.AbortAsync(keepForResume: false).ConfigureAwait(false);
                throw open.Failure;
            }
            byte[] expected;
            try
            {
                expected = Convert.FromHexString(end.Hash ?? "");
            }
            catch (FormatException)
            {
                expected = [];
            }
            var request = open.Upload.Request;
            if (expected.Length != request.Checksum.HashBytes)
            {
                // Keep the data: the client may fix its put_end and resume.
                throw new FerryException(FerryErrorCode.FieldInvalid,
                    $"put_end needs 'hash': the {request.Checksum.HashBytes * 2}-digit hex {request.Checksum.Name} of the whole file.");
            }

            if (delta is not null)
            {
                if (await Sync.DeltaUploads.TryKeepCurrentAsync(context.Session.Store, open.Upload, delta, expected, cancellationToken).ConfigureAwait(false))
                {
                    context.Writer.WriteHeader(new TransferDoneMessage
                    {
                        Id = end.Id,
                        Path = request.Path,
                        Size = request.Size,
                        Checksum = request.Checksum.Name,
                        Hash = Convert.ToHexStringLower(expected),
                    }, FerryJsonContext.Default.TransferDoneMessage);
                    return;
                }
                await delta.Assembly.FinishAsync(cancellationToken).ConfigureAwait(false);
            }
            var hash = await open.Upload.CommitAsync(expected, cancellationToken).ConfigureAwait(false);
            context.Writer.WriteHeader(new TransferDoneMessage
            {
                Id = end.Id,
                Path = request.Path,
                Size = request.Size,
                Checksum = request.Checksum.Name,
                Hash = Convert.ToHexStringLower(hash),
            }, FerryJsonContext.Default.TransferDoneMessage);
            // A delta put holds the replaced file open as its basis: closing it frees that file's blocks (about 0.1 s per
            // GiB on tmpfs), which the client need not wait for.
            if (delta is { HoldsFiles: true })
                await context.FlushAsync(cancellationToken).ConfigureAwait(false);
            // A file synced by delta is likely to be synced again: have its chunk list ready for then.
            if (delta is not null)
                committedDigests.Queue(context.Session.Store, request.Path, delta.AverageChunkSize, request.Size,
                    request.ModifiedNs ?? (request.ModifiedTime is { } time ? (time - DateTimeOffset.UnixEpoch).Ticks * 100 : null));
        }
    }
}

/// <summary>Streams the current frame body into an upload without copying it through another buffer.</summary>
internal static class BodyCopy
{
    /// <summary>Bytes gathered before each write: few large writes however small the transport's pieces are.</summary>
    private const int WriteBatch = 1024 * 1024;

    /// <summary>
    /// The whole body is the file: written, verified against <paramref name="expectedHash"/> (when given) and committed;
    /// on any failure nothing is kept, since an upload in one frame cannot be resumed (classic uploads, put_file).
    /// </summary>
    public static async ValueTask<byte[]> ToCommitOrNothingAsync(FrameReader reader, IUpload upload, byte[]? expectedHash, CancellationToken cancellationToken)
    {
        try
        {
            await ToUploadAsync(reader, upload, 0, cancellationToken).ConfigureAwait(false);
            return await upload.CommitAsync(expectedHash, cancellationToken).ConfigureAwait(false);
        }
        catch (FerryException)
        {
            await upload.AbortAsync(keepForResume: false).ConfigureAwait(false);
            throw;
        }
    }

    public static async ValueTask ToUploadAsync(FrameReader reader, IUpload upload, long offset, CancellationToken cancellationToken)
    {
        var position = offset;
        while (reader.BodyRemaining > 0)
        {
            var chunk = await reader.ReadBodyChunkAsync(WriteBatch, cancellationToken).ConfigureAwait(false);
            if (chunk.Length > WriteBatch)
                chunk = chunk.Slice(0, WriteBatch);
            try
            {
                await upload.WriteAsync(chunk, position, cancellationToken).ConfigureAwait(false);
            }
            catch (FerryException)
            {
                // The failed write still used up its bytes: the dispatcher skips the rest of the body from where they end,
                // and the connection's next frame is found (without this the skip waited for bytes that never come).
                reader.AdvanceBody(chunk, chunk.Length);
                throw;
            }
            position += chunk.Length;
            reader.AdvanceBody(chunk, chunk.Length);
        }
    }
}

/// <summary>Joins a shared upload opened on another connection of the same user (parallel streams, §5.2.1).</summary>
internal sealed class PutJoinHandler(SharedUploads shared) : ICommandHandler
{
    public string Command => CommandNames.PutJoin;
    public Auth.Permissions RequiredPermission => Auth.Permissions.Write;

    public ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var join = context.Header.Deserialize(FerryJsonContext.Default.PutJoinMessage);
        var uploads = context.Session.Uploads;
        if (uploads.ContainsKey(join.Id))
            throw new FerryException(FerryErrorCode.FieldInvalid, $"Upload id {join.Id} is already open on this connection.");
        var upload = shared.Find(join.Token, context.Session.User?.Name)
            ?? throw new FerryException(FerryErrorCode.UnknownTransfer, "No shared upload has that token (it ended, or belongs to someone else).");
        uploads.Add(join.Id, new OpenUpload(new SharedUploads.Joined(upload)));
        context.Writer.WriteHeader(new PutReadyMessage { Id = join.Id, Offset = 0, ChunkSize = PutHandler.ChunkSize }, FerryJsonContext.Default.PutReadyMessage);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Uploads that several connections write at once, by token. The opening connection owns the upload (it commits or
/// abandons it, which also ends the sharing); joined connections can only write ranges.
/// </summary>
internal sealed class SharedUploads
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (IUpload Upload, string? User)> _open = new(StringComparer.Ordinal);

    public string Add(IUpload upload, string? user)
    {
        var token = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        _open[token] = (upload, user);
        return token;
    }

    public IUpload? Find(string? token, string? user) =>
        token is not null && _open.TryGetValue(token, out var entry) && entry.User == user ? entry.Upload : null;

    private void Remove(string token) => _open.TryRemove(token, out _);

    /// <summary>The opener's handle: ending it, however it ends, stops further joins.</summary>
    public sealed class Owner(IUpload inner, SharedUploads registry, string token) : IUpload
    {
        public UploadRequest Request => inner.Request;
        public long ResumeOffset => inner.ResumeOffset;
        public ReadOnlyMemory<byte> ResumeChunkHashes => inner.ResumeChunkHashes;
        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken cancellationToken) => inner.WriteAsync(data, offset, cancellationToken);
        public ValueTask WriteAsync(ReadOnlySequence<byte> data, long offset, CancellationToken cancellationToken) => inner.WriteAsync(data, offset, cancellationToken);

        public ValueTask<byte[]> CommitAsync(byte[]? expectedHash, CancellationToken cancellationToken)
        {
            registry.Remove(token);
            return inner.CommitAsync(expectedHash, cancellationToken);
        }

        public ValueTask AbortAsync(bool keepForResume)
        {
            registry.Remove(token);
            return inner.AbortAsync(keepForResume: false); // ranges from several connections cannot be resumed
        }

        public ValueTask DisposeAsync()
        {
            registry.Remove(token);
            return inner.AbortAsync(keepForResume: false);
        }
    }

    /// <summary>A joined connection's handle: it writes; ending the connection leaves the upload to its owner.</summary>
    public sealed class Joined(IUpload inner) : IUpload
    {
        public UploadRequest Request => inner.Request;
        public long ResumeOffset => 0;
        public ReadOnlyMemory<byte> ResumeChunkHashes => default;
        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken cancellationToken) => inner.WriteAsync(data, offset, cancellationToken);
        public ValueTask WriteAsync(ReadOnlySequence<byte> data, long offset, CancellationToken cancellationToken) => inner.WriteAsync(data, offset, cancellationToken);
        public ValueTask<byte[]> CommitAsync(byte[]? expectedHash, CancellationToken cancellationToken) =>
            throw new FerryException(FerryErrorCode.FieldInvalid, "Only the connection that opened a shared upload can commit it.");
        public ValueTask AbortAsync(bool keepForResume) => ValueTask.CompletedTask;
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
