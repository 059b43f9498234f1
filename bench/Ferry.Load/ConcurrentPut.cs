using System.Diagnostics;
using System.Globalization;
using Ferry.Client;
using Ferry.Client.Transfers;

namespace Ferry.Load;

/// <summary>
/// concurrent-put: a single-stream baseline, then --clients clients that each connect and upload one file of --size at
/// the same moment. See README.md for why the baseline is "the same files, one after another, over one connection".
/// </summary>
internal static class ConcurrentPut
{
    private const double MB = 1_000_000.0;

    private sealed class ClientRecord
    {
        public long ConnectStarted, Connected, UploadStarted, UploadDone;
        public string? Phase, Error;
    }

    public static async Task RunAsync(RunContext ctx)
    {
        var args = ctx.Args;
        var report = ctx.Report;
        var clients = args.Int("--clients", 1000, 1, 100_000);
        var size = args.Size("--size", 1L << 20, 1, 64L << 30);
        var limitText = args.String("--concurrency-limit") ?? "none";
        int? limit = limitText == "none" ? null
            : int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out var l) && l >= 1 ? Math.Min(l, clients)
            : throw new UsageException($"--concurrency-limit must be 'none' or a whole number of at least 1, not '{limitText}'.");
        var barrier = args.String("--barrier") ?? "before-connect";
        if (barrier is not ("before-connect" or "before-upload"))
            throw new UsageException($"--barrier must be before-connect or before-upload, not '{barrier}'.");
        var baseline = args.String("--baseline") ?? "files";
        if (baseline is not ("files" or "one-file" or "none"))
            throw new UsageException($"--baseline must be files, one-file or none, not '{baseline}'.");
        // put_files (docs/protocol.md §5.9.7) packs forced files of up to 1 MiB: "off" sends each as put_file frames, to
        // compare the two paths on the same server.
        var putFiles = args.String("--put-files") ?? "on";
        if (putFiles is not ("on" or "off"))
            throw new UsageException($"--put-files must be on or off, not '{putFiles}'.");
        var keep = args.Switch("--keep");
        int? serverPid = args.String("--server-pid") is null ? null : args.Int("--server-pid", 0, 1, int.MaxValue);
        var totalBytes = clients * size;

        report.Set("clients", clients);
        report.Set("size_bytes", size);
        report.Set("total_bytes", totalBytes);
        report.Set("concurrency_limit", limit is null ? "none" : limit.Value.ToString(CultureInfo.InvariantCulture));
        report.Set("barrier", barrier);
        report.Set("put_files", putFiles);
        report.Set("baseline", baseline switch
        {
            "files" => "clients files of size, one after another, over one connection",
            "one-file" => "one file of clients*size bytes over one connection",
            _ => "none",
        });
        ctx.RequireOpenFiles(clients, $"{clients} concurrent clients");
        if (serverPid is { } sp)
        {
            report.Set("server_pid", sp);
            report.Set("server_process", ProcInfo.ReadStatus(sp).Name);
        }
        // CPU seconds of this process and (with --server-pid) of the server, from the start of a phase.
        (double Client, double Server) CpuNow() => (ProcInfo.OwnCpuSeconds(), serverPid is { } p ? ProcInfo.CpuSeconds(p) : double.NaN);
        void ReportCpu(string phase, (double Client, double Server) since)
        {
            var now = CpuNow();
            report.Set($"{phase}_client_cpu_seconds", now.Client - since.Client);
            if (serverPid is not null)
                report.Set($"{phase}_server_cpu_seconds", now.Server - since.Server);
        }

        // The data: random bytes, generated once, on tmpfs (PutFileAsync reads a local file).
        var data = Path.Combine(ctx.TempDirectory, "data.bin");
        var bigData = baseline == "one-file" ? Path.Combine(ctx.TempDirectory, "single-stream.bin") : null;
        RequireSpace(ctx.TempDirectory, size + (bigData is null ? 0 : totalBytes));
        WriteRandomFile(data, size, seed: 1);
        if (bigData is not null)
            WriteRandomFile(bigData, totalBytes, seed: 2);
        ctx.Note($"test data: {size} random bytes in {data}{(bigData is null ? "" : $", and {totalBytes} in {bigData}")}.");

        var remoteRoot = $"ferry-load-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}";
        report.Set("remote_directory", remoteRoot);
        var put = new PutOptions { Force = true };
        var singleMbS = double.NaN;

        var cleanedUp = false;
        try
        {
            await using (var first = await ctx.ConnectFirstAsync(ctx.Token))
            {
                first.PutFilesEnabled = putFiles == "on";
                await first.MkdirAsync($"{remoteRoot}/base", parents: true, ctx.Token);
                await first.MkdirAsync($"{remoteRoot}/clients", parents: true, ctx.Token);
                // One untimed upload first, so that neither phase pays for JIT compilation of the upload path.
                await first.PutFileAsync(data, $"{remoteRoot}/base/warmup", put, progress: null, ctx.Token);
                await first.RemoveAsync($"{remoteRoot}/base/warmup", recursive: false, ctx.Token);
                if (baseline != "none")
                {
                    ctx.Note(baseline == "files"
                        ? $"single-stream baseline: {clients} files of {size} bytes, one after another, over this connection…"
                        : $"single-stream baseline: one file of {totalBytes} bytes over this connection…");
                    var started = Stopwatch.GetTimestamp();
                    var cpu = CpuNow();
                    // The client's garbage collections in the baseline: large per-file buffers show up here first.
                    var gcBefore = (Gen0: GC.CollectionCount(0), Gen1: GC.CollectionCount(1), Gen2: GC.CollectionCount(2), Allocated: GC.GetTotalAllocatedBytes());
                    if (baseline == "files")
                    {
                        for (var i = 0; i < clients; i++)
                        {
                            ctx.Token.ThrowIfCancellationRequested();
                            await first.PutFileAsync(data, $"{remoteRoot}/base/f{i:D6}", put, progress: null, ctx.Token);
                        }
                    }
                    else
                    {
                        await first.PutFileAsync(bigData!, $"{remoteRoot}/base/single", put, progress: null, ctx.Token);
                    }
                    var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                    ReportCpu("single_stream", cpu);
                    report.Set("single_stream_client_gen0", GC.CollectionCount(0) - gcBefore.Gen0);
                    report.Set("single_stream_client_gen1", GC.CollectionCount(1) - gcBefore.Gen1);
                    report.Set("single_stream_client_gen2", GC.CollectionCount(2) - gcBefore.Gen2);
                    report.Set("single_stream_client_allocated_mb", (GC.GetTotalAllocatedBytes() - gcBefore.Allocated) / MB);
                    report.Set("single_stream_seconds", seconds);
                    singleMbS = totalBytes / MB / seconds;
                    report.Set("single_stream_mb_s", singleMbS);
                    ctx.Note($"single stream: {totalBytes / MB:0.0} MB in {seconds:0.000} s = {totalBytes / MB / seconds:0.0} MB/s.");
                    // Both phases start from an empty directory and the same free space on the server.
                    await first.RemoveAsync($"{remoteRoot}/base", recursive: true, ctx.Token);
                    if (bigData is not null)
                        File.Delete(bigData);
                }
            }

            // The concurrent phase: every client task waits on one start signal.
            ctx.Note($"{clients} clients, barrier {barrier}, concurrency limit {limitText}: connecting and uploading {size} bytes each…");
            var records = new ClientRecord[clients];
            var ready = 0;
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var limiter = limit is { } n ? new SemaphoreSlim(n, n) : null;
            var listenBefore = ProcInfo.ListenCounters();

            async Task ClientAsync(int index)
            {
                var record = records[index] = new ClientRecord();
                FerryClient? client = null;
                var counted = false;
                try
                {
                    if (barrier == "before-upload")
                    {
                        record.Phase = "connect";
                        record.ConnectStarted = Stopwatch.GetTimestamp();
                        client = await ctx.ConnectAsync(ctx.Token);
                        record.Connected = Stopwatch.GetTimestamp();
                    }
                    Interlocked.Increment(ref ready);
                    counted = true;
                    record.Phase = "waiting for the start";
                    await start.Task.WaitAsync(ctx.Token);
                    if (limiter is not null)
                    {
                        record.Phase = "waiting for the concurrency limit";
                        await limiter.WaitAsync(ctx.Token);
                    }
                    try
                    {
                        if (client is null)
                        {
                            record.Phase = "connect";
                            record.ConnectStarted = Stopwatch.GetTimestamp();
                            client = await ctx.ConnectAsync(ctx.Token);
                            record.Connected = Stopwatch.GetTimestamp();
                        }
                        client.PutFilesEnabled = putFiles == "on";
                        record.Phase = "upload";
                        record.UploadStarted = Stopwatch.GetTimestamp();
                        await client.PutFileAsync(data, $"{remoteRoot}/clients/c{index:D6}", put, progress: null, ctx.Token);
                        record.UploadDone = Stopwatch.GetTimestamp();
                        record.Phase = null;
                    }
                    finally
                    {
                        limiter?.Release();
                    }
                }
                catch (Exception ex)
                {
                    record.Error = Report.Describe(ex);
                    record.UploadDone = Stopwatch.GetTimestamp();
                    if (!counted)
                        Interlocked.Increment(ref ready);
                }
                finally
                {
                    if (client is not null)
                    {
                        try
                        {
                            await client.DisposeAsync();
                        }
                        catch (Exception ex) when (record.Error is null)
                        {
                            record.Phase = "close";
                            record.Error = Report.Describe(ex);
                        }
                    }
                }
            }

            var tasks = new Task[clients];
            for (var i = 0; i < clients; i++)
            {
                var index = i;
                tasks[i] = Task.Run(() => ClientAsync(index), CancellationToken.None);
            }
            while (Volatile.Read(ref ready) < clients)
                await Task.Delay(5, ctx.Token);
            if (barrier == "before-upload")
                ctx.Note($"all {clients} clients connected (or failed to); starting the uploads.");
            var t0 = Stopwatch.GetTimestamp();
            var concurrentCpu = CpuNow();
            start.SetResult();
            await Task.WhenAll(tasks).WaitAsync(ctx.Token);
            ReportCpu("concurrent", concurrentCpu);
            if (serverPid is { } pid)
            {
                var status = ProcInfo.ReadStatus(pid);
                report.Set("server_rss_after_kb", status.VmRssKb);
                report.Set("server_vmhwm_kb", status.VmHwmKb);
                report.Set("server_threads_after", status.Threads);
            }
            var listenAfter = ProcInfo.ListenCounters();
            ctx.Token.ThrowIfCancellationRequested();

            var tEnd = records.Max(r => r.UploadDone);
            var total = Stopwatch.GetElapsedTime(t0, tEnd).TotalSeconds;
            var failed = records.Where(r => r.Error is not null).ToList();
            var ok = records.Where(r => r.Error is null).ToList();
            report.Set("failures", failed.Count);
            report.Set("total_seconds", total);
            var aggregateMbS = ok.Count * size / MB / total;
            report.Set("aggregate_mb_s", aggregateMbS);
            report.Set("ratio", aggregateMbS / singleMbS); // null without a baseline
            var withConnect = records.Where(r => r.Connected != 0).ToList();
            Stats.AddMilliseconds(report, "connect_", withConnect.Select(r => Stopwatch.GetElapsedTime(r.ConnectStarted, r.Connected).TotalMilliseconds));
            Stats.AddMilliseconds(report, "upload_", ok.Select(r => Stopwatch.GetElapsedTime(r.UploadStarted, r.UploadDone).TotalMilliseconds));
            if (barrier == "before-connect")
                report.Set("client_max_ms", ok.Count == 0 ? double.NaN : ok.Max(r => Stopwatch.GetElapsedTime(t0, r.UploadDone).TotalMilliseconds));
            if (listenBefore is { } lb && listenAfter is { } la)
            {
                report.Set("listen_overflows_delta", la.Overflows - lb.Overflows);
                report.Set("listen_drops_delta", la.Drops - lb.Drops);
            }

            ctx.Note($"{ok.Count} of {clients} uploads done in {total:0.000} s = {ok.Count * size / MB / total:0.0} MB/s aggregate; " +
                     $"connect median {Stats.Median(withConnect.Select(r => Stopwatch.GetElapsedTime(r.ConnectStarted, r.Connected).TotalMilliseconds)):0.0} ms.");
            if (failed.Count > 0)
            {
                ctx.Note($"{failed.Count} client(s) failed. First errors:");
                foreach (var (record, index) in records.Select((r, i) => (r, i)).Where(x => x.r.Error is not null).Take(10))
                    ctx.Note($"  client {index} ({record.Phase}): {record.Error}");
                ctx.Note("By kind:");
                foreach (var group in failed.GroupBy(r => $"{r.Phase}: {Shorten(r.Error!)}").OrderByDescending(g => g.Count()).Take(10))
                    ctx.Note($"  {group.Count()} × {group.Key}");
                report.Set("first_errors", failed.Take(5).Select(r => $"{r.Phase}: {r.Error}").ToList());
                ctx.HintAtLimits(failed.Select(r => r.Error!), clients);
            }

            // What the server holds now, and cleaning up.
            await using (var last = await ctx.ConnectAsync(ctx.Token))
            {
                var entries = await last.ListAsync($"{remoteRoot}/clients", recursive: false, ctx.Token);
                report.Set("remote_files", entries.Count);
                if (entries.Count != ok.Count)
                    throw new InvalidOperationException($"the server lists {entries.Count} files in {remoteRoot}/clients but {ok.Count} uploads succeeded.");
                if (keep)
                {
                    ctx.Note($"--keep: the uploaded files stay in {remoteRoot}/ on the server.");
                }
                else
                {
                    await last.RemoveAsync(remoteRoot, recursive: true, ctx.Token);
                    cleanedUp = true;
                }
            }

            if (failed.Count > 0)
                throw new LoadFailureException($"{failed.Count} of {clients} clients failed; first: client {Array.FindIndex(records, r => r.Error is not null)} ({failed[0].Phase}): {failed[0].Error}");
        }
        catch when (!keep && !cleanedUp)
        {
            await TryRemoveAsync(ctx, remoteRoot);
            throw;
        }
    }

    /// <summary>After a failure or a stop: remove what this run uploaded, with its own short deadline; only a note if that fails.</summary>
    private static async Task TryRemoveAsync(RunContext ctx, string remoteRoot)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await using var client = await ctx.ConnectAsync(deadline.Token);
            await client.RemoveAsync(remoteRoot, recursive: true, deadline.Token);
            ctx.Note($"removed {remoteRoot}/ from the server after the failure.");
        }
        catch (Exception ex)
        {
            ctx.Note($"could not remove {remoteRoot}/ from the server after the failure: {Report.Describe(ex)}");
        }
    }

    /// <summary>An error message without the numbers that make every instance unique (ports, ids, byte counts).</summary>
    private static string Shorten(string error)
    {
        var text = new System.Text.StringBuilder(error.Length);
        var inNumber = false;
        foreach (var c in error)
        {
            if (char.IsAsciiDigit(c))
            {
                if (!inNumber)
                    text.Append('#');
                inNumber = true;
            }
            else
            {
                inNumber = false;
                text.Append(c);
            }
        }
        return text.Length > 300 ? text.ToString(0, 300) + "…" : text.ToString();
    }

    private static void RequireSpace(string directory, long bytes)
    {
        var free = new DriveInfo(directory).AvailableFreeSpace;
        if (free < bytes + (64L << 20))
            throw new UsageException($"{directory} has {free} bytes free but the test data needs {bytes}.");
    }

    private static void WriteRandomFile(string path, long size, int seed)
    {
        var random = new Random(seed);
        var block = new byte[(int)Math.Min(size, 1 << 20)];
        using var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            PreallocationSize = size,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        for (long written = 0; written < size;)
        {
            var n = (int)Math.Min(block.Length, size - written);
            random.NextBytes(block.AsSpan(0, n));
            file.Write(block, 0, n);
            written += n;
        }
    }
}

/// <summary>The run completed but its result is a failure (figures are still reported); exit code 1.</summary>
internal sealed class LoadFailureException(string message) : Exception(message);
