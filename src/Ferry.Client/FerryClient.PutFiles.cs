using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Sync.Batching;

namespace Ferry.Client;

// Many small whole files in one put_files frame (docs/protocol.md §5.9.7): a record of tens of bytes per file instead of
// a put_file frame with a JSON header and a done reply of its own.
public sealed partial class FerryClient
{
    /// <summary>Records in one put_files frame from this client (the server takes up to <see cref="PutFilesMessage.MaxCount"/>).</summary>
    internal const int PackMaxFiles = 64;

    /// <summary>
    /// Body bytes of one put_files from this client (a larger file still goes alone in one). The server holds a whole body
    /// while it checks it and stores nothing before that, so frames are kept small enough that it stores one while the
    /// client reads the files of the next, and large enough that frames and replies cost little per file. On loopback,
    /// 1000 files of 4 KiB took 0.10-0.11 s in frames of 64 files, 0.11-0.12 s in frames of 256 KiB and 0.165 s in one
    /// frame of 4 MiB; a tree of 10,000 files of 1 KiB-700 KiB (1 GiB) 1.65-1.80 s in frames of 64 files or 1 MiB,
    /// against 1.79-2.09 s in frames of 256 KiB.
    /// </summary>
    internal const int PackMaxBytes = 1024 * 1024;

    /// <summary>Largest failure report accepted in a put_files_done: a message per record of a full frame, with room to spare.</summary>
    private const long MaxPackReportBytes = 8L * 1024 * 1024;

    /// <summary>
    /// Largest file packed when it replaces whatever is there (a sync): with force nothing can refuse it for existing, so
    /// its bytes are never sent in vain, and files up to here gain from dropping put's four frames and two round trips.
    /// </summary>
    internal const long PackMaxForcedSize = 1024 * 1024;

    /// <summary>Nanoseconds fit a long up to about the year 2262; a time in seconds past that goes in an ordinary put.</summary>
    private const long MaxPackableSeconds = long.MaxValue / 1_000_000_000;

    /// <summary>The server takes put_files and this run sends files as they are, in one stream, with the default checksum.</summary>
    private bool CanPack(PutRun run) =>
        PutFilesEnabled && ServerSupports(CommandNames.PutFiles) && run.Streams <= 1 && !run.Shaping.Compress
        && run.Options.Checksum.Name == ChecksumAlgorithm.Xxh3Name;

    private static bool Packable(PutItem item, PutOptions options) =>
        item.Failure is null && item.Basis is null && item.Size <= (options.Force || item.ForceReplace ? PackMaxForcedSize : OneFrameMaxSize)
        && item.ModifiedUnixSeconds is null or (>= 0 and <= MaxPackableSeconds);

    /// <summary>One put_files frame: the items planned for it, those whose records went (a file that cannot be read stays out).</summary>
    private sealed class Pack(List<PutItem> planned)
    {
        public List<PutItem> Planned { get; } = planned;
        public List<PutItem> Sent { get; } = [];
        public long Id { get; set; }
        public TaskCompletionSource<bool> Framed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// Sends <paramref name="items"/> in put_files frames, pipelined: every frame goes out while the replies come back,
    /// one per frame. Items are left with their result or failure, those refused with already_exists without force with
    /// <see cref="PutItem.Existing"/>, as in the put pipeline. A broken connection throws.
    /// </summary>
    private async Task PutPackedAsync(List<PutItem> items, PutRun run, CancellationToken cancellationToken)
    {
        var packs = new List<Pack>();
        var current = new List<PutItem>();
        long bytes = 0;
        foreach (var item in items)
        {
            var cost = item.Size + FileRecordFormat.MaxOverhead(System.Text.Encoding.UTF8.GetByteCount(item.RemotePath));
            if (current.Count > 0 && (current.Count == PackMaxFiles || bytes + cost > PackMaxBytes))
            {
                packs.Add(new Pack(current));
                current = [];
                bytes = 0;
            }
            current.Add(item);
            bytes += cost;
        }
        packs.Add(new Pack(current));

        await RunDuplexAsync(async ct =>
        {
            foreach (var pack in packs)
            {
                await SendPackAsync(pack, run, ct).ConfigureAwait(false);
                if (_output.UnflushedBytes >= 64 * 1024)
                    await _writer.FlushAsync(ct).ConfigureAwait(false);
            }
            await _writer.FlushAsync(ct).ConfigureAwait(false);
        }, async ct =>
        {
            foreach (var pack in packs)
                await ReceivePackAsync(pack, run, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads, hashes and packs each planned file, then writes the frame; marks <see cref="Pack.Framed"/> with whether one went.</summary>
    private async Task SendPackAsync(Pack pack, PutRun run, CancellationToken ct)
    {
        var force = run.Options.Force;
        // Sized for every planned record at its largest, so it never grows (the planner kept a pack near PackMaxBytes).
        using var body = new PooledBodyWriter(checked((int)pack.Planned.Sum(i =>
            i.Size + FileRecordFormat.MaxOverhead(System.Text.Encoding.UTF8.GetByteCount(i.RemotePath)))));
        var records = new FileRecordWriter();
        var buffer = ArrayPool<byte>.Shared.Rent((int)pack.Planned.Max(i => i.Size) + 1);
        try
        {
            foreach (var item in pack.Planned)
            {
                var size = (int)item.Size;
                item.StartedAt = Stopwatch.GetTimestamp();
                try
                {
                    LocalFiles.ReadWholeSmallFile(item.File.LocalPath, buffer, size);
                }
                catch (Exception ex) when (ex is FerryException or IOException or UnauthorizedAccessException)
                {
                    item.Failure = ex; // reported by the receive loop, like every other outcome
                    continue;
                }
                var data = buffer.AsSpan(0, size);
                var hash = ChecksumAlgorithm.Xxh3.Hash(data);
                item.LocalHash = Convert.ToHexStringLower(hash);
                run.Observer.OnStarted(item.File, item.Size, 0);
                if (run.Shaping.Limiter is { } limiter)
                    await limiter.TakeAsync(size, ct).ConfigureAwait(false);
                var modifiedNs = item.ModifiedNs ?? item.ModifiedUnixSeconds * 1_000_000_000;
                records.Write(body, item.RemotePath, item.Mode, modifiedNs, force || item.ForceReplace, hash, buffer.AsSpan(0, size));
                pack.Sent.Add(item);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        if (pack.Sent.Count == 0)
        {
            pack.Framed.TrySetResult(false);
            return;
        }
        pack.Id = NextTransferId();
        _writer.WriteHeader(new PutFilesMessage { Id = pack.Id, Count = pack.Sent.Count, BodySize = body.WrittenCount },
            FerryJsonContext.Default.PutFilesMessage, body.WrittenCount);
        await _writer.WriteBodyAsync(body.WrittenMemory, ct).ConfigureAwait(false);
        foreach (var item in pack.Sent)
        {
            item.AddSent(item.Size);
            item.AddWire(item.Size);
            run.DataMoved?.Invoke(item.Size);
            new ProgressThrottle(item.File, run.Observer).Finish(item.Size);
        }
        pack.Framed.TrySetResult(true);
    }

    /// <summary>
    /// Takes a pack's put_files_done: every record not listed as failed was stored (the server checked its hash); an
    /// error frame instead refused the whole frame, and so every file in it. A reply that does not fit the frame sent
    /// (another id or count, a failure index out of range or repeated) breaks the connection.
    /// </summary>
    private async Task ReceivePackAsync(Pack pack, PutRun run, CancellationToken ct)
    {
        var observer = run.Observer;
        if (await pack.Framed.Task.WaitAsync(ct).ConfigureAwait(false))
        {
            Dictionary<int, FerryRemoteException> failed;
            try
            {
                failed = await ReadPackReplyAsync(pack, ct).ConfigureAwait(false);
            }
            catch (FerryRemoteException ex) when (!_broken)
            {
                failed = Enumerable.Range(0, pack.Sent.Count).ToDictionary(i => i, _ => ex);
            }
            for (var i = 0; i < pack.Sent.Count; i++)
            {
                var item = pack.Sent[i];
                if (failed.TryGetValue(i, out var error))
                {
                    if (error.Code == FerryErrorCode.AlreadyExists && !run.Options.Force && !item.ForceReplace)
                        item.Existing = error;
                    else
                        Fail(item, error, observer);
                    continue;
                }
                item.Result = new TransferResult
                {
                    LocalPath = item.File.LocalPath,
                    RemotePath = item.RemotePath,
                    Bytes = item.Size,
                    BytesTransferred = item.BytesSent,
                    ResumedFrom = 0,
                    Elapsed = Stopwatch.GetElapsedTime(item.StartedAt),
                    Checksum = ChecksumAlgorithm.Xxh3Name,
                    Hash = item.LocalHash!,
                };
                observer.OnCompleted(item.File, item.Result);
            }
        }
        foreach (var item in pack.Planned.Where(i => i.Failure is not null && !i.Reported))
            Fail(item, item.Failure!, observer);
    }

    private async Task<Dictionary<int, FerryRemoteException>> ReadPackReplyAsync(Pack pack, CancellationToken ct)
    {
        var header = await ReadReplyAsync(CommandNames.PutFilesDone, ct).ConfigureAwait(false);
        var done = header.Deserialize(FerryJsonContext.Default.PutFilesDoneMessage);
        if (done.Id != pack.Id || done.Count != pack.Sent.Count || done.Failed < 0 || done.Failed > done.Count
            || header.BodyLength > MaxPackReportBytes || (done.Failed == 0) != (header.BodyLength == 0))
            throw Break(new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                $"The server answered put_files {done.Id} of {done.Count} files ({done.Failed} failed, a report of {header.BodyLength} bytes) where put_files {pack.Id} of {pack.Sent.Count} files was expected.",
                isFatal: true));
        var failed = new Dictionary<int, FerryRemoteException>();
        if (done.Failed == 0)
            return failed;
        List<PutFilesFailure>? report;
        try
        {
            report = JsonSerializer.Deserialize(await ReadBodyBytesAsync(header.BodyLength, ct).ConfigureAwait(false), FerryJsonContext.Default.ListPutFilesFailure);
        }
        catch (JsonException ex)
        {
            throw Break(new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The server's put_files_done report is not a JSON array of failures: {ex.Message}", isFatal: true, ex));
        }
        foreach (var failure in report ?? [])
        {
            if (failure.Index < 0 || failure.Index >= pack.Sent.Count || failure.Code is null
                || !failed.TryAdd(failure.Index, new FerryRemoteException(FerryErrorCodes.FromWire(failure.Code), failure.Code, failure.Message ?? "")))
                throw Break(new FerryProtocolException(FerryErrorCode.FieldInvalid,
                    $"The server's put_files_done names record {failure.Index} of {pack.Sent.Count}, without a code, or twice.", isFatal: true));
        }
        if (failed.Count != done.Failed)
            throw Break(new FerryProtocolException(FerryErrorCode.FieldInvalid,
                $"The server's put_files_done says {done.Failed} files failed but lists {failed.Count}.", isFatal: true));
        return failed;
    }
}
