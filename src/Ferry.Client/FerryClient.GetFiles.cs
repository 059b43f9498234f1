using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Sync.Batching;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Client;

// Many small whole files asked for in one get_files request (docs/protocol.md §5.9.8): the server answers with frames of
// put_files records, tens of bytes per file instead of a get, a file frame and a done each.
public sealed partial class FerryClient
{
    /// <summary>
    /// Largest listed file asked for in a get_files: below this the server sends a get's body through its pipe anyway
    /// (no sendfile), so a record loses nothing, and a frame of them stays small enough to hold whole.
    /// </summary>
    internal const long PackGetMaxSize = 256 * 1024;

    /// <summary>Largest failure report accepted in a get_files_done: a message per name of a full request, with room to spare.</summary>
    private const long MaxGetFilesReportBytes = 8L * 1024 * 1024;

    /// <summary>The server serves get_files and this run takes files as they are, with the default checksum.</summary>
    private bool CanPackGets(GetRun run) =>
        GetFilesEnabled && ServerSupports(CommandNames.GetFiles) && !run.Shaping.Compress && run.Options.Checksum.Name == ChecksumAlgorithm.Xxh3Name;

    /// <summary>One get_files request: the items it names, in order, and which of them came.</summary>
    private sealed class GetPack(List<GetItem> items)
    {
        public List<GetItem> Items { get; } = items;
        public long Id { get; set; }
        public bool[] Received { get; } = new bool[items.Count];
        public int ReceivedCount { get; set; }
        /// <summary>Index after the last item a record named: records come in the order asked.</summary>
        public int Next { get; set; }
    }

    /// <summary>
    /// Fetches <paramref name="items"/> (each of a listed size up to <see cref="PackGetMaxSize"/>, none resumed) with
    /// pipelined get_files requests. Each file is checked against its record's hash, written to its part file and
    /// committed as a get's would be. Returns the items to fetch with get instead: those the server found too large
    /// or changing while it read them. A server that breaks the format breaks the connection (thrown).
    /// </summary>
    private async Task<List<GetItem>> GetPackedAsync(List<GetItem> items, GetRun run, CancellationToken cancellationToken)
    {
        var packs = new List<GetPack>();
        var current = new List<GetItem>();
        long nameBytes = 0;
        foreach (var item in items)
        {
            var cost = FileNameList.MaxBytes(item.RemotePath);
            if (current.Count > 0 && (current.Count == GetFilesMessage.MaxCount || nameBytes + cost > GetFilesMessage.MaxBodySize))
            {
                packs.Add(new GetPack(current));
                current = [];
                nameBytes = 0;
            }
            current.Add(item);
            nameBytes += cost;
        }
        packs.Add(new GetPack(current));

        var again = new List<GetItem>();
        await RunDuplexAsync(async ct =>
        {
            foreach (var pack in packs)
            {
                pack.Id = NextTransferId();
                var body = FileNameList.Encode(pack.Items.Select(i => i.RemotePath));
                var started = Stopwatch.GetTimestamp();
                foreach (var item in pack.Items)
                    item.StartedAt = started;
                _writer.WriteHeader(new GetFilesMessage { Id = pack.Id, Count = pack.Items.Count, BodySize = body.Length },
                    FerryJsonContext.Default.GetFilesMessage, body.Length);
                await _writer.WriteBodyAsync(body, ct).ConfigureAwait(false);
            }
            await _writer.FlushAsync(ct).ConfigureAwait(false);
        }, async ct =>
        {
            foreach (var pack in packs)
            {
                try
                {
                    await ReceiveGetPackAsync(pack, run, again, ct).ConfigureAwait(false);
                }
                catch (FerryRemoteException ex) when (!_broken)
                {
                    // The request was refused as a whole (or ended early): every file it named and did not get fails with it.
                    for (var i = 0; i < pack.Items.Count; i++)
                    {
                        if (!pack.Received[i])
                            Fail(pack.Items[i], ex, run.Observer);
                    }
                }
            }
        }, cancellationToken).ConfigureAwait(false);
        return again;
    }

    /// <summary>Reads one request's file_records frames and its get_files_done, committing each file as its frame is checked.</summary>
    private async Task ReceiveGetPackAsync(GetPack pack, GetRun run, List<GetItem> again, CancellationToken ct)
    {
        while (true)
        {
            var header = await ReadReplyAsync(CommandNames.FileRecords, CommandNames.GetFilesDone, ct).ConfigureAwait(false);
            if (header.Command == CommandNames.GetFilesDone)
            {
                await ReadGetFilesDoneAsync(pack, header, run, again, ct).ConfigureAwait(false);
                return;
            }
            var frame = header.Deserialize(FerryJsonContext.Default.FileRecordsMessage);
            if (frame.Id != pack.Id || frame.Count < 1 || frame.Count > pack.Items.Count - pack.ReceivedCount
                || header.BodyLength <= 0 || header.BodyLength > FileRecordsMessage.MaxBodySize)
                throw Break(new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                    $"The server sent file_records {frame.Id} of {frame.Count} files in {header.BodyLength} bytes where get_files {pack.Id} had {pack.Items.Count - pack.ReceivedCount} files to come (at most {FileRecordsMessage.MaxBodySize} bytes a frame).",
                    isFatal: true));
            var buffer = ArrayPool<byte>.Shared.Rent((int)header.BodyLength);
            try
            {
                var body = buffer.AsMemory(0, (int)header.BodyLength);
                for (var filled = 0; filled < body.Length;)
                    filled += await _reader.ReadBodyAsync(body[filled..], ct).ConfigureAwait(false);
                await StoreFrameAsync(pack, frame, body, run, ct).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>Checks a whole file_records frame against the request, then stores each of its files.</summary>
    private async Task StoreFrameAsync(GetPack pack, FileRecordsMessage frame, ReadOnlyMemory<byte> body, GetRun run, CancellationToken ct)
    {
        List<FileRecord> records;
        try
        {
            records = FileRecordReader.ReadAll(body, frame.Count);
        }
        catch (FerryException ex)
        {
            throw Break(new FerryProtocolException(FerryErrorCode.FieldInvalid,
                $"The server's file_records for get_files {pack.Id} does not hold the {frame.Count} records it declares: {ex.Message}", isFatal: true, ex));
        }
        // Every record of the frame is matched to a file asked for before any is written: a frame that names a file
        // not asked for (or twice, or out of order) leaves nothing behind.
        var matched = new int[records.Count];
        var next = pack.Next;
        for (var r = 0; r < records.Count; r++)
        {
            var record = records[r];
            var k = next;
            while (k < pack.Items.Count && pack.Items[k].RemotePath != record.Name)
                k++;
            if (k == pack.Items.Count)
                throw Break(new FerryProtocolException(FerryErrorCode.FieldInvalid,
                    $"The server's file_records for get_files {pack.Id} holds '{ControlCharactersSafe(record.Name)}', which was not asked for (or not in the order asked).", isFatal: true));
            if (record.Force || record.ModifiedNs is null || record.Content.Length > GetFilesMessage.MaxFileSize)
                throw Break(new FerryProtocolException(FerryErrorCode.FieldInvalid,
                    $"The server's record of '{record.Name}' for get_files {pack.Id} sets force, lacks a time or is over {GetFilesMessage.MaxFileSize} bytes.", isFatal: true));
            matched[r] = k;
            next = k + 1;
        }
        pack.Next = next;
        for (var r = 0; r < records.Count; r++)
        {
            pack.Received[matched[r]] = true;
            pack.ReceivedCount++;
            if (run.Shaping.Limiter is { } limiter)
                await limiter.TakeAsync(records[r].Content.Length, ct).ConfigureAwait(false);
            StoreRecord(pack.Items[matched[r]], records[r], run);
        }
    }

    private static string ControlCharactersSafe(string name) => Ferry.Protocol.Text.ControlCharacters.Escape(name);

    /// <summary>
    /// One received file: its hash checked (a mismatch fails it, nothing written), then written to its part file and
    /// committed with its time (the item's, else the record's when times are kept) and the item's mode.
    /// </summary>
    private static void StoreRecord(GetItem item, FileRecord record, GetRun run)
    {
        var size = record.Content.Length;
        item.Size = size;
        item.AddReceived(size);
        item.AddWire(size);
        run.DataMoved?.Invoke(size);
        run.Observer.OnStarted(item.File, size, 0);
        var progress = new ProgressThrottle(item.File, run.Observer);
        var hash = ChecksumAlgorithm.Xxh3.Hash(record.Content.Span);
        if (!hash.AsSpan().SequenceEqual(record.Hash.Span))
        {
            Fail(item, new FerryException(FerryErrorCode.ChecksumMismatch,
                $"The data received for '{item.RemotePath}' does not match the server's checksum ({Convert.ToHexStringLower(record.Hash.Span)}, received {Convert.ToHexStringLower(hash)}); nothing was kept."),
                run.Observer);
            return;
        }
        SafeFileHandle? handle = null;
        try
        {
            try
            {
                handle = PartFile.OpenForWriting(item.PartPath); // never through a link planted at the part file's name
                RandomAccess.SetLength(handle, 0);
                RandomAccess.Write(handle, record.Content.Span, 0);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                if (handle is not null)
                {
                    handle.Dispose();
                    handle = null;
                    PartFile.TryDelete(item.PartPath);
                }
                Fail(item, ex, run.Observer);
                return;
            }
            long? modified = item.ModifiedNs ?? (run.Options.PreserveModifiedTime ? record.ModifiedNs : null);
            CommitDownload(item, ref handle, Convert.ToHexStringLower(hash), size, modified, run, progress);
        }
        finally
        {
            handle?.Dispose();
        }
    }

    /// <summary>
    /// The last frame of a request: it must count what came (the files sent, the failures listed, each file not sent
    /// listed once); anything else breaks the connection. A file too large or changing goes back for a get.
    /// </summary>
    private async Task ReadGetFilesDoneAsync(GetPack pack, FrameHeader header, GetRun run, List<GetItem> again, CancellationToken ct)
    {
        var done = header.Deserialize(FerryJsonContext.Default.GetFilesDoneMessage);
        var missing = pack.Items.Count - pack.ReceivedCount;
        if (done.Id != pack.Id || done.Count != pack.Items.Count || done.Sent != pack.ReceivedCount || done.Failed != missing
            || header.BodyLength > MaxGetFilesReportBytes || (missing == 0) != (header.BodyLength == 0))
            throw Break(new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                $"The server ended get_files {done.Id} of {done.Count} files with {done.Sent} sent and {done.Failed} failed (a report of {header.BodyLength} bytes) where get_files {pack.Id} of {pack.Items.Count} files got {pack.ReceivedCount}.",
                isFatal: true));
        if (missing == 0)
            return;
        List<PutFilesFailure>? report;
        try
        {
            report = JsonSerializer.Deserialize(await ReadBodyBytesAsync(header.BodyLength, ct).ConfigureAwait(false), FerryJsonContext.Default.ListPutFilesFailure);
        }
        catch (JsonException ex)
        {
            throw Break(new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The server's get_files_done report is not a JSON array of failures: {ex.Message}", isFatal: true, ex));
        }
        var failed = new Dictionary<int, FerryRemoteException>();
        foreach (var failure in report ?? [])
        {
            if (failure.Index < 0 || failure.Index >= pack.Items.Count || pack.Received[failure.Index] || failure.Code is null
                || !failed.TryAdd(failure.Index, new FerryRemoteException(FerryErrorCodes.FromWire(failure.Code), failure.Code, failure.Message ?? "")))
                throw Break(new FerryProtocolException(FerryErrorCode.FieldInvalid,
                    $"The server's get_files_done names file {failure.Index} of {pack.Items.Count}, one it sent, without a code, or twice.", isFatal: true));
        }
        if (failed.Count != missing)
            throw Break(new FerryProtocolException(FerryErrorCode.FieldInvalid,
                $"The server's get_files_done says {done.Failed} files failed but lists {failed.Count}.", isFatal: true));
        foreach (var (index, error) in failed)
        {
            var item = pack.Items[index];
            if (error.Code is FerryErrorCode.FileTooLarge or FerryErrorCode.FileChanged)
                again.Add(item);
            else
                Fail(item, error, run.Observer);
        }
    }
}
