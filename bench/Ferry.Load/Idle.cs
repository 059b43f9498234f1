using System.Collections.Concurrent;
using System.Diagnostics;
using Ferry.Client;

namespace Ferry.Load;

/// <summary>
/// idle: the server's resident memory per idle, logged-in connection. The server's GC heap cannot be read from outside,
/// so the figure is VmRSS from /proc/PID/status: medians of a few samples after the server settled, before and after
/// opening --connections connections.
/// </summary>
internal static class Idle
{
    private static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(500);

    public static async Task RunAsync(RunContext ctx)
    {
        var args = ctx.Args;
        var report = ctx.Report;
        var pid = args.Int("--server-pid", 0, 1, int.MaxValue);
        if (pid == 0)
            throw new UsageException("idle needs --server-pid PID (the ferry serve process, whose VmRSS is read).");
        var count = args.Int("--connections", 5000, 1, 1_000_000);
        var parallel = args.Int("--parallel", 64, 1, 4096);
        var settle = TimeSpan.FromSeconds(args.Seconds("--settle", 3, 0, 600));
        var samples = args.Int("--samples", 5, 1, 100);
        var warmup = args.Int("--warmup-connections", 64, 0, 100_000);
        report.Set("server_pid", pid);
        report.Set("connections", count);
        report.Set("parallel", parallel);
        report.Set("settle_seconds", settle.TotalSeconds);
        report.Set("samples", samples);
        report.Set("warmup_connections", warmup);

        var status = ProcInfo.ReadStatus(pid);
        report.Set("server_process", status.Name);
        ctx.RequireOpenFiles(count, $"{count} idle connections");
        var serverLimit = ProcInfo.OpenFilesLimit(pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        report.Set("server_open_files_limit", serverLimit);
        if (serverLimit >= 0 && serverLimit < count + 64)
            throw new UsageException($"the server (pid {pid}) may open only {serverLimit} files, fewer than {count} connections need: start it after 'ulimit -n 65536'.");

        // Warm-up: the first connections load TLS, JIT the server's paths and grow its pools; they are not per-connection costs.
        await (await ctx.ConnectFirstAsync(ctx.Token)).DisposeAsync();
        if (warmup > 0)
        {
            var (warm, warmErrors, _) = await OpenAsync(ctx, warmup, parallel);
            await CloseAllAsync(warm, parallel);
            if (warmErrors.Count > 0)
            {
                ctx.HintAtLimits(warmErrors, count);
                throw new InvalidOperationException($"{warmErrors.Count} of {warmup} warm-up connections failed; first: {warmErrors.First()}");
            }
        }

        var before = await SettleAndSampleAsync(ctx, pid, settle, samples);
        report.Set("rss_before_kb", before.RssKb);
        report.Set("server_threads_before", before.Threads);
        ctx.Note($"server {status.Name} (pid {pid}): VmRSS {before.RssKb} kB before; opening {count} connections, {parallel} at a time…");

        var listenBefore = ProcInfo.ListenCounters();
        var (serverCpu0, clientCpu0) = (ProcInfo.CpuSeconds(pid), ProcInfo.OwnCpuSeconds());
        var opened = Stopwatch.StartNew();
        var (open, errors, connectMs) = await OpenAsync(ctx, count, parallel);
        var openSeconds = opened.Elapsed.TotalSeconds;
        report.Set("server_cpu_seconds_open", ProcInfo.CpuSeconds(pid) - serverCpu0);
        report.Set("client_cpu_seconds_open", ProcInfo.OwnCpuSeconds() - clientCpu0);
        var listenAfter = ProcInfo.ListenCounters();
        try
        {
            report.Set("opened", open.Count);
            report.Set("failures", errors.Count);
            report.Set("open_seconds", openSeconds);
            Stats.AddMilliseconds(report, "connect_", connectMs);
            if (listenBefore is { } lb && listenAfter is { } la)
                report.Set("listen_overflows_delta", la.Overflows - lb.Overflows);
            if (errors.Count > 0)
            {
                ctx.Note($"{errors.Count} connection(s) failed (nothing is retried); first errors:");
                foreach (var e in errors.Take(10))
                    ctx.Note("  " + e);
                report.Set("first_errors", errors.Take(5).ToList());
                ctx.HintAtLimits(errors, count);
                throw new LoadFailureException($"{errors.Count} of {count} connections failed after {open.Count} opened; first: {errors.First()}");
            }
            ctx.Note($"{open.Count} connections open in {openSeconds:0.00} s; letting the server settle for {settle.TotalSeconds:0.#} s.");

            var after = await SettleAndSampleAsync(ctx, pid, settle, samples);
            report.Set("rss_after_kb", after.RssKb);
            report.Set("per_connection_bytes", (after.RssKb - before.RssKb) * 1024.0 / count);
            report.Set("server_threads_after", after.Threads);
            report.Set("server_open_files_after", ProcInfo.OpenFiles(pid));
            report.Set("server_vmhwm_kb", after.HwmKb);

            var hungUp = open.Count(c => c.HasServerHungUp());
            report.Set("hung_up", hungUp);
            ctx.Note($"VmRSS {after.RssKb} kB with {count} idle connections: {(after.RssKb - before.RssKb) * 1024.0 / count:0} bytes per connection.");
            if (hungUp > 0)
                throw new LoadFailureException($"the server hung up on {hungUp} of {count} idle connections during the measurement.");
        }
        finally
        {
            var closing = Stopwatch.StartNew();
            await CloseAllAsync(open, parallel);
            report.Set("close_seconds", closing.Elapsed.TotalSeconds);
        }

        // After closing: does the memory come back? (Informational: the GC and the allocator may keep it.)
        var closed = await SettleAndSampleAsync(ctx, pid, settle, samples);
        report.Set("rss_after_close_kb", closed.RssKb);
        ctx.Note($"VmRSS {closed.RssKb} kB after closing them.");
    }

    private readonly record struct Sample(long RssKb, long HwmKb, int Threads);

    /// <summary>Waits <paramref name="settle"/>, then takes <paramref name="samples"/> readings 0.5 s apart; the median RSS.</summary>
    private static async Task<Sample> SettleAndSampleAsync(RunContext ctx, int pid, TimeSpan settle, int samples)
    {
        await Task.Delay(settle, ctx.Token);
        var rss = new List<double>(samples);
        ProcInfo.Status last = default;
        for (var i = 0; i < samples; i++)
        {
            if (i > 0)
                await Task.Delay(SampleInterval, ctx.Token);
            last = ProcInfo.ReadStatus(pid);
            rss.Add(last.VmRssKb);
        }
        return new Sample((long)Math.Round(Stats.Median(rss)), last.VmHwmKb, last.Threads);
    }

    /// <summary>Opens <paramref name="count"/> connections, <paramref name="parallel"/> at a time; stops opening after 20 failures. Nothing is retried.</summary>
    private static async Task<(List<FerryClient> Open, List<string> Errors, List<double> ConnectMs)> OpenAsync(RunContext ctx, int count, int parallel)
    {
        var open = new ConcurrentBag<FerryClient>();
        var errors = new ConcurrentQueue<string>();
        var times = new ConcurrentBag<double>();
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(ctx.Token);
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = giveUp.Token },
                async (index, ct) =>
                {
                    var started = Stopwatch.GetTimestamp();
                    try
                    {
                        open.Add(await ctx.ConnectAsync(ct));
                        times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }
                    catch (Exception ex) when (!ctx.Stopped && !(ex is OperationCanceledException && giveUp.IsCancellationRequested))
                    {
                        errors.Enqueue($"connection {index}: {Report.Describe(ex)}");
                        if (errors.Count >= 20)
                            await giveUp.CancelAsync();
                    }
                });
        }
        catch (OperationCanceledException) when (giveUp.IsCancellationRequested && !ctx.Stopped)
        {
            // Gave up after too many failures; they are reported.
        }
        catch
        {
            await CloseAllAsync(open.ToList(), parallel);
            throw;
        }
        return (open.ToList(), errors.ToList(), times.ToList());
    }

    private static async Task CloseAllAsync(IReadOnlyList<FerryClient> clients, int parallel) =>
        await Parallel.ForEachAsync(clients, new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (client, _) =>
        {
            try
            {
                await client.DisposeAsync();
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
            {
            }
        });
}
