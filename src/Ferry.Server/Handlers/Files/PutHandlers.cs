using System.Buffers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Storage;

namespace Ferry.Server.Handlers.Files;

/// <summary>Opens an upload (docs/protocol.md §5.2), or stores a classic tutorial upload in one go (§5.7).</summary>
internal sealed class PutHandler : ICommandHandler
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
            await ClassicUploadAsync(context, put, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (context.Header.BodyLength != 0)
            throw new FerryException(FerryErrorCode.FieldInvalid, "A put with 'path' carries no body; send the data with put_data.");
        var path = RemotePath.Normalize(put.Path);
        if (put.Size < 0)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"'size' must not be negative (got {put.Size}).");
        var checksum = ChecksumAlgorithm.FromName(put.Checksum);
        var uploads = context.Session.Uploads;
        if (uploads.ContainsKey(put.Id))
            throw new FerryException(FerryErrorCode.FieldInvalid, $"Upload id {put.Id} is already open on this connection.");
        if (uploads.Count >= MaxOpenUploads)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"At most {MaxOpenUploads} uploads may be open at once on one connection.");

        var modified = put.ModifiedUnixSeconds is { } seconds ? DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(seconds, 0, 253402300799)) : (DateTimeOffset?)null;
        var upload = await context.Session.Store.BeginUploadAsync(
            new UploadRequest(path, put.Size, checksum, put.Force, put.Resume, modified, ChunkSize), cancellationToken).ConfigureAwait(false);
        uploads.Add(put.Id, new OpenUpload(upload));

        var hashes = upload.ResumeChunkHashes;
        context.Writer.WriteHeader(new PutReadyMessage
        {
            Id = put.Id,
            Offset = upload.ResumeOffset,
            ChunkSize = ChunkSize,
            BodySize = hashes.Length,
        }, FerryJsonContext.Default.PutReadyMessage, hashes.Length);
        context.Writer.WriteBody(hashes.Span);
    }

    /// <summary>
    /// The tutorial client's upload: header then all bytes, no checksum, no hello. Still atomic: the bytes go to a
    /// temporary file that is renamed into place only once all of them arrived.
    /// </summary>
    private static async ValueTask ClassicUploadAsync(CommandContext context, PutMessage put, CancellationToken cancellationToken)
    {
        var path = RemotePath.Normalize(put.FileName);
        var size = context.Header.BodyLength;
        var upload = await context.Session.Store.BeginUploadAsync(
            new UploadRequest(path, size, ChecksumAlgorithm.Default, Force: true, Resume: false, ModifiedTime: null, ChunkSize), cancellationToken).ConfigureAwait(false);
        await using (upload.ConfigureAwait(false))
        {
            try
            {
                await BodyCopy.ToUploadAsync(context.Reader, upload, 0, cancellationToken).ConfigureAwait(false);
                var hash = await upload.CommitAsync(expectedHash: null, cancellationToken).ConfigureAwait(false);
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
            catch (FerryException)
            {
                // A classic client cannot resume: leave nothing behind.
                await upload.AbortAsync(keepForResume: false).ConfigureAwait(false);
                throw;
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
            if (data.Offset < 0 || data.Offset > open.Upload.Request.Size - context.Header.BodyLength)
                throw new FerryException(FerryErrorCode.FieldInvalid,
                    $"put_data at offset {data.Offset} with {context.Header.BodyLength} bytes does not fit a file of {open.Upload.Request.Size} bytes.");
            await BodyCopy.ToUploadAsync(context.Reader, open.Upload, data.Offset, cancellationToken).ConfigureAwait(false);
        }
        catch (FerryException ex) when (ex is not FerryProtocolException)
        {
            open.Failure = ex;
        }
    }
}

/// <summary>Verifies and commits an upload (§5.2).</summary>
internal sealed class PutEndHandler : ICommandHandler
{
    public string Command => CommandNames.PutEnd;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Write;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var end = context.Header.Deserialize(FerryJsonContext.Default.PutEndMessage);
        if (!context.Session.Uploads.Remove(end.Id, out var open))
            throw new FerryException(FerryErrorCode.UnknownTransfer, $"No upload with id {end.Id} is open on this connection.");

        await using (open.Upload.ConfigureAwait(false))
        {
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

            var hash = await open.Upload.CommitAsync(expected, cancellationToken).ConfigureAwait(false);
            context.Writer.WriteHeader(new TransferDoneMessage
            {
                Id = end.Id,
                Path = request.Path,
                Size = request.Size,
                Checksum = request.Checksum.Name,
                Hash = Convert.ToHexStringLower(hash),
            }, FerryJsonContext.Default.TransferDoneMessage);
        }
    }
}

/// <summary>Streams the current frame body into an upload without copying it through another buffer.</summary>
internal static class BodyCopy
{
    /// <summary>Bytes gathered before each write: few large writes however small the transport's pieces are.</summary>
    private const int WriteBatch = 1024 * 1024;

    public static async ValueTask ToUploadAsync(FrameReader reader, IUpload upload, long offset, CancellationToken cancellationToken)
    {
        var position = offset;
        while (reader.BodyRemaining > 0)
        {
            var chunk = await reader.ReadBodyChunkAsync(WriteBatch, cancellationToken).ConfigureAwait(false);
            if (chunk.Length > WriteBatch)
                chunk = chunk.Slice(0, WriteBatch);
            await upload.WriteAsync(chunk, position, cancellationToken).ConfigureAwait(false);
            position += chunk.Length;
            reader.AdvanceBody(chunk, chunk.Length);
        }
    }
}
