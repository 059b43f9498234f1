using System.Diagnostics;
using Ferry.Client;
using Ferry.Client.Exec;

namespace Ferry.Load;

/// <summary>exec-rtt and exec-fresh: the latency of running <c>true</c> remotely.</summary>
internal static class ExecModes
{
    private static readonly ExecRequest True = ExecRequest.Command("true");

    /// <summary>
    /// exec-rtt: one connection, <c>true</c> (argv, no shell) --runs times after --warmup untimed runs; each sample is one
    /// <see cref="FerryClient.ExecAsync"/> call, from sending exec to having sent exec_done after the exit.
    /// </summary>
    public static async Task ExecRttAsync(RunContext ctx)
    {
        var runs = ctx.Args.Int("--runs", 1000, 1, 1_000_000);
        var warmup = ctx.Args.Int("--warmup", 50, 0, 1_000_000);
        var report = ctx.Report;
        report.Set("runs", runs);
        report.Set("warmup", warmup);
        report.Set("command", "true");

        await using var client = await ctx.ConnectFirstAsync(ctx.Token);
        var samples = new List<double>(runs);
        var overall = Stopwatch.StartNew();
        for (var i = 0; i < warmup + runs; i++)
        {
            ctx.Token.ThrowIfCancellationRequested();
            var started = Stopwatch.GetTimestamp();
            var result = await client.ExecAsync(True, stdin: null, Stream.Null, Stream.Null, options: null, ctx.Token);
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            ctx.Token.ThrowIfCancellationRequested();
            CheckExit(result, i);
            if (i >= warmup)
                samples.Add(elapsed);
            report.Set("runs_done", samples.Count);
        }
        Stats.AddMilliseconds(report, "", samples);
        report.Set("measured_seconds", overall.Elapsed.TotalSeconds);
        ctx.Note($"{runs} exec round trips of 'true' over one connection: median {Stats.Median(samples):0.000} ms.");
    }

    /// <summary>
    /// exec-fresh: per run a new connection (TCP connect, TLS handshake unless --plain, hello, login), <c>true</c>, and
    /// closing the connection; --warmup untimed runs first (JIT, TLS library loading). Compare with <c>ssh 127.0.0.1
    /// true</c>, keeping in mind that timing the ssh command also counts starting the ssh process (a few ms), which
    /// ferry-load's in-process clock does not.
    /// </summary>
    public static async Task ExecFreshAsync(RunContext ctx)
    {
        var runs = ctx.Args.Int("--runs", 50, 1, 100_000);
        var warmup = ctx.Args.Int("--warmup", 3, 0, 100_000);
        var report = ctx.Report;
        report.Set("runs", runs);
        report.Set("warmup", warmup);
        report.Set("command", "true");

        // The first connection pins the certificate; it is not one of the runs.
        await (await ctx.ConnectFirstAsync(ctx.Token)).DisposeAsync();

        var total = new List<double>(runs);
        var connect = new List<double>(runs);
        var exec = new List<double>(runs);
        var close = new List<double>(runs);
        for (var i = 0; i < warmup + runs; i++)
        {
            ctx.Token.ThrowIfCancellationRequested();
            var t0 = Stopwatch.GetTimestamp();
            var client = await ctx.ConnectAsync(ctx.Token);
            var t1 = Stopwatch.GetTimestamp();
            ExecResult result;
            try
            {
                result = await client.ExecAsync(True, stdin: null, Stream.Null, Stream.Null, options: null, ctx.Token);
            }
            catch
            {
                await client.DisposeAsync();
                throw;
            }
            var t2 = Stopwatch.GetTimestamp();
            await client.DisposeAsync();
            var t3 = Stopwatch.GetTimestamp();
            ctx.Token.ThrowIfCancellationRequested();
            CheckExit(result, i);
            if (i < warmup)
                continue;
            connect.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
            exec.Add(Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds);
            close.Add(Stopwatch.GetElapsedTime(t2, t3).TotalMilliseconds);
            total.Add(Stopwatch.GetElapsedTime(t0, t3).TotalMilliseconds);
            report.Set("runs_done", total.Count);
        }
        Stats.AddMilliseconds(report, "", total);
        report.Set("connect_median_ms", Stats.Median(connect));
        report.Set("exec_median_ms", Stats.Median(exec));
        report.Set("close_median_ms", Stats.Median(close));
        ctx.Note($"{runs} runs of connect{(ctx.UseTls ? " + TLS" : "")}{(ctx.Credentials is null ? "" : " + login")} + 'true' + close: median {Stats.Median(total):0.000} ms " +
                 $"(connect {Stats.Median(connect):0.000}, exec {Stats.Median(exec):0.000}, close {Stats.Median(close):0.000}). " +
                 "This clock starts inside a running process; 'time ssh 127.0.0.1 true' also counts starting ssh.");
    }

    private static void CheckExit(ExecResult result, int run)
    {
        if (result.ExitCode != 0 || result.TimedOut || result.Killed || result.Interrupted)
            throw new InvalidOperationException(
                $"run {run}: 'true' ended with exit code {result.ExitCode} (timed out: {result.TimedOut}, killed: {result.Killed}, interrupted: {result.Interrupted}).");
    }
}
