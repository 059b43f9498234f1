using System.Buffers;
using System.Text.Json;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Diagnostics;
using Ferry.Server.Storage;
using Ferry.Sync.Batching;
using Ferry.Sync.Caching;

namespace Ferry.Server.Handlers.Files;

/// <summary>
/// Sends many whole small files in frames of packed records (docs/protocol.md §5.9.8), the mirror of put_files: the
/// names are read and checked first (count, lengths, duplicates), then each file is opened through the store exactly as
/// get opens it (jail, regular files only), read whole, hashed and packed with its mode and time. A file that cannot be
/// sent is listed in the last frame with its code, and the others still go.
/// </summary>
internal sealed class GetFilesHandler(FerryMetrics metrics) : ICommandHandler
{
    /// <summary>Bytes of records after which a frame is sent (a frame may hold up to <see cref="FileRecordsMessage.MaxBodySize"/>).</summary>
    private const int FrameTarget = 256 * 1024;

    public string Command => CommandNames.GetFiles;

    public Auth.Permissions RequiredPermission => Auth.Permissions.Read;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        // The header is checked before any byte of the body is read; after an error the dispatcher skips the body.
        var get = context.Header.Deserialize(FerryJsonContext.Default.GetFilesMessage);
        if (get.Id is not { } id)
            throw new FerryException(FerryErrorCode.FieldInvalid, "A get_files needs an integer 'id'.");
        if (get.Count is not { } count || count < 1 || count > GetFilesMessage.MaxCount)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"A get_files needs 'count' from 1 to {GetFilesMessage.MaxCount} (got {get.Count?.ToString() ?? "none"}).");
        var length = context.Header.BodyLength;
        if (length > GetFilesMessage.MaxBodySize)
            throw new FerryException(FerryErrorCode.FieldInvalid,
                $"A get_files carries at most {GetFilesMessage.MaxBodySize} bytes of names (got {length}); ask for fewer files in each.");
        // The shortest name is three bytes (keep, add, one byte): a count the body cannot hold is refused before it is read.
        if (length < 3L * count)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"A get_files body of {length} bytes cannot hold {count} names.");

        var body = new byte[length];
        for (var read = 0; read < body.Length;)
        {
            var n = await context.Reader.ReadBodyAsync(body.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (n == 0)
                throw new EndOfStreamException("The connection closed inside a get_files body.");
            read += n;
        }
        var names = FileNameList.Decode(body, count);
        var paths = Check(names, out var failures);

        var frame = new ArrayBufferWriter<byte>(64 * 1024);
        var records = new FileRecordWriter();
        var content = ArrayPool<byte>.Shared.Rent((int)GetFilesMessage.MaxFileSize + 1);
        var sent = 0;
        try
        {
            for (var i = 0; i < paths.Length; i++)
            {
                if (paths[i] is not { } path)
                    continue;
                ReadFile file;
                try
                {
                    file = await ReadAsync(context.Session.Store, path, content, cancellationToken).ConfigureAwait(false);
                }
                catch (FerryException ex) when (ex is not FerryProtocolException)
                {
                    // Missing, a folder, not a regular file, a link out of the root, too big, changed while read: this file
                    // is reported and the next one goes, as separate gets would.
                    failures.Add(new PutFilesFailure { Index = i, Code = ex.Code.ToWire(), Message = ex.Message });
                    continue;
                }
                if (records.Count > 0 && records.Length + FileRecordFormat.MaxOverhead(System.Text.Encoding.UTF8.GetByteCount(path)) + file.Length > FileRecordsMessage.MaxBodySize)
                {
                    await SendFrameAsync(context, id, records.Count, frame, cancellationToken).ConfigureAwait(false);
                    frame.ResetWrittenCount();
                    records = new FileRecordWriter();
                }
                metrics.TransferStarted(upload: false);
                var data = content.AsSpan(0, file.Length);
                records.Write(frame, path, file.Mode, file.ModifiedNs, force: false, ChecksumAlgorithm.Xxh3.Hash(data), data);
                metrics.TransferFinished(upload: false);
                sent++;
                // A frame goes as soon as it holds FrameTarget bytes: the client writes the files of one frame while the
                // next is read here, where one frame of a whole request would make each side wait for the other.
                if (records.Length >= FrameTarget)
                {
                    await SendFrameAsync(context, id, records.Count, frame, cancellationToken).ConfigureAwait(false);
                    frame.ResetWrittenCount();
                    records = new FileRecordWriter();
                }
            }
            if (records.Count > 0)
                await SendFrameAsync(context, id, records.Count, frame, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(content);
        }

        failures.Sort((a, b) => a.Index.CompareTo(b.Index));
        var report = failures.Count == 0 ? null : JsonSerializer.SerializeToUtf8Bytes(failures, FerryJsonContext.Default.ListPutFilesFailure);
        context.Writer.WriteHeader(new GetFilesDoneMessage { Id = id, Count = count, Sent = sent, Failed = failures.Count, BodySize = report?.Length },
            FerryJsonContext.Default.GetFilesDoneMessage, report?.Length ?? 0);
        if (report is not null)
            context.Writer.WriteBody(report);
    }

    private static async ValueTask SendFrameAsync(CommandContext context, long id, int count, ArrayBufferWriter<byte> frame, CancellationToken cancellationToken)
    {
        context.Writer.WriteHeader(new FileRecordsMessage { Id = id, Count = count, BodySize = frame.WrittenCount },
            FerryJsonContext.Default.FileRecordsMessage, frame.WrittenCount);
        context.Writer.WriteBody(frame.WrittenSpan);
        await context.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Every name normalized; a malformed or escaping name, or the root, is a failure of that name alone (as a get of it
    /// would be). A file named twice refuses the whole request: its records could not be told apart.
    /// </summary>
    private static string?[] Check(List<string> names, out List<PutFilesFailure> failures)
    {
        failures = [];
        var paths = new string?[names.Count];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++)
        {
            string path;
            try
            {
                path = RemotePath.Normalize(names[i]);
                if (path.Length == 0)
                    throw new FerryException(FerryErrorCode.IsADirectory, "The root is a directory; list it and name its files.");
            }
            catch (FerryException ex)
            {
                failures.Add(new PutFilesFailure { Index = i, Code = ex.Code.ToWire(), Message = ex.Message });
                continue;
            }
            if (!seen.Add(path))
                throw new FerryException(FerryErrorCode.FieldInvalid, $"Name {i} of a get_files names '{path}' again; ask for each file once.");
            paths[i] = path;
        }
        return paths;
    }

    private readonly record struct ReadFile(int Length, int? Mode, long ModifiedNs);

    /// <summary>
    /// Opens <paramref name="path"/> as get does and reads it whole into <paramref name="buffer"/>. A file over
    /// <see cref="GetFilesMessage.MaxFileSize"/> is file_too_large; one whose size, time or change time moved while it
    /// was read, or that gave more or fewer bytes than its size, is file_changed: a record must be one version of a file.
    /// </summary>
    private static async ValueTask<ReadFile> ReadAsync(IFileStore store, string path, byte[] buffer, CancellationToken cancellationToken)
    {
        await using var file = await store.OpenReadAsync(path, cancellationToken).ConfigureAwait(false);
        if (file.Length > GetFilesMessage.MaxFileSize)
            throw new FerryException(FerryErrorCode.FileTooLarge,
                $"'{path}' is {file.Length} bytes, more than the {GetFilesMessage.MaxFileSize} a get_files record carries; fetch it with get.");
        var length = (int)file.Length;
        var local = file as ILocalFileAccess;
        FileIdentity? before = local is not null && FileStat.IsSupported ? FileStat.Get(local.Handle) : null;
        int filled;
        if (local is not null)
        {
            // One byte past the size: a file that grew since it was opened is caught here, not sent cut short. Read on
            // this thread: at most 1 MiB, and a hop to the pool per file would cost more than the read.
            filled = 0;
            while (filled <= length)
            {
                var n = RandomAccess.Read(local.Handle, buffer.AsSpan(filled, length + 1 - filled), filled);
                if (n == 0)
                    break;
                filled += n;
            }
        }
        else
        {
            filled = 0;
            while (filled < length)
            {
                var n = await file.ReadAsync(buffer.AsMemory(filled, length - filled), filled, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    break;
                filled += n;
            }
        }
        FileIdentity? after = before is not null ? FileStat.Get(local!.Handle) : null;
        if (filled != length || before != after || (before is { } b && b.Size != length))
            throw new FerryException(FerryErrorCode.FileChanged, $"'{path}' changed while it was read; fetch it again.");
        int? mode = null;
        if (local is not null && !OperatingSystem.IsWindows())
            mode = (int)File.GetUnixFileMode(local.Handle) & 0x1FF;
        var modified = before?.ModifiedNs ?? (file.ModifiedTime - DateTimeOffset.UnixEpoch).Ticks * 100;
        return new ReadFile(length, mode, modified);
    }
}
