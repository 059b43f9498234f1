using System.Buffers;
using System.Text.Json;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Diagnostics;
using Ferry.Server.Storage;
using Ferry.Sync.Batching;

namespace Ferry.Server.Handlers.Files;

/// <summary>
/// Stores many whole small files sent in one frame (docs/protocol.md §5.9.7). The body is read and every record checked
/// first (count, lengths, flags, names, duplicates), so a body that lies stores nothing; then each file goes exactly as a
/// put_file's would (the same store call: jail, quota, part file, hash check, mode and time, rename), and one reply says
/// which ones were not stored and why.
/// </summary>
internal sealed class PutFilesHandler(FerryMetrics metrics) : ICommandHandler
{
    public string Command => CommandNames.PutFiles;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Write;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        // The header is checked before any byte of the body is read; after an error the dispatcher skips the body.
        var put = context.Header.Deserialize(FerryJsonContext.Default.PutFilesMessage);
        if (put.Id is not { } id)
            throw new FerryException(FerryErrorCode.FieldInvalid, "A put_files needs an integer 'id'.");
        if (put.Count is not { } count || count < 1 || count > PutFilesMessage.MaxCount)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"A put_files needs 'count' from 1 to {PutFilesMessage.MaxCount} (got {put.Count?.ToString() ?? "none"}).");
        var length = context.Header.BodyLength;
        if (length > PutFilesMessage.MaxBodySize)
            throw new FerryException(FerryErrorCode.FieldInvalid,
                $"A put_files carries at most {PutFilesMessage.MaxBodySize} bytes (got {length}); send fewer files in each.");
        // The smallest record is 1+1+1+1+16 bytes: a count the body cannot hold is refused before it is read.
        if (length < (long)count * (4 + FileRecordFormat.HashBytes))
            throw new FerryException(FerryErrorCode.FieldInvalid, $"A put_files body of {length} bytes cannot hold {count} records.");

        var body = ArrayPool<byte>.Shared.Rent((int)length);
        try
        {
            var memory = body.AsMemory(0, (int)length);
            for (var read = 0; read < memory.Length;)
            {
                var n = await context.Reader.ReadBodyAsync(memory[read..], cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    throw new EndOfStreamException("The connection closed inside a put_files body.");
                read += n;
            }
            var records = FileRecordReader.ReadAll(memory, count);
            var paths = Check(records);

            var failures = new List<PutFilesFailure>();
            for (var i = 0; i < records.Count; i++)
            {
                try
                {
                    await StoreAsync(context, paths[i], records[i], cancellationToken).ConfigureAwait(false);
                }
                catch (FerryException ex) when (ex is not FerryProtocolException)
                {
                    // A file the store refuses (quota, an existing file without force, a folder or link in the way, a
                    // checksum that does not match) is reported; the others go on, as separate put_files would.
                    failures.Add(new PutFilesFailure { Index = i, Code = ex.Code.ToWire(), Message = ex.Message });
                }
            }
            var report = failures.Count == 0 ? null : JsonSerializer.SerializeToUtf8Bytes(failures, FerryJsonContext.Default.ListPutFilesFailure);
            context.Writer.WriteHeader(new PutFilesDoneMessage { Id = id, Count = count, Failed = failures.Count, BodySize = report?.Length },
                FerryJsonContext.Default.PutFilesDoneMessage, report?.Length ?? 0);
            if (report is not null)
                context.Writer.WriteBody(report);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    /// <summary>
    /// Every name normalized (an invalid or escaping name refuses the whole frame with its path code) and no file named
    /// twice: two records for one name would leave the result to their order, which a sender never means.
    /// </summary>
    private static string[] Check(List<FileRecord> records)
    {
        var paths = new string[records.Count];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < records.Count; i++)
        {
            paths[i] = RemotePath.Normalize(records[i].Name);
            if (paths[i].Length == 0)
                throw new FerryException(FerryErrorCode.PathInvalid, $"Record {i} of a put_files names the root; name the file to write.");
            if (!seen.Add(paths[i]))
                throw new FerryException(FerryErrorCode.FieldInvalid, $"Record {i} of a put_files names '{paths[i]}' again; each file goes once per frame.");
        }
        return paths;
    }

    private async ValueTask StoreAsync(CommandContext context, string path, FileRecord record, CancellationToken cancellationToken)
    {
        var request = new UploadRequest(path, record.Content.Length, ChecksumAlgorithm.Xxh3, record.Force, Resume: false, ModifiedTime: null,
            PutHandler.ChunkSize, Mode: record.Mode, ModifiedNs: record.ModifiedNs);
        var upload = new MeteredUpload(await context.Session.Store.BeginUploadAsync(request, cancellationToken).ConfigureAwait(false), metrics);
        await using (upload.ConfigureAwait(false))
        {
            try
            {
                if (record.Content.Length > 0)
                    await upload.WriteAsync(record.Content, 0, cancellationToken).ConfigureAwait(false);
                await upload.CommitAsync(record.Hash.ToArray(), cancellationToken).ConfigureAwait(false);
            }
            catch (FerryException)
            {
                await upload.AbortAsync(keepForResume: false).ConfigureAwait(false);
                throw;
            }
        }
    }
}
