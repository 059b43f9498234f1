using System.Diagnostics;
using System.IO.Pipelines;
using Ferry.Client.Exec;

namespace Ferry.Load;

/// <summary>term-echo: keystroke echo round trip on an open remote terminal, timed inside the client process.</summary>
internal static class TerminalEcho
{
    private static readonly TimeSpan EchoTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// One connection, <c>cat</c> on a remote terminal; --count times after --warmup untimed ones: one byte typed (a
    /// one-byte stdin frame) and the time until the terminal's echo of it reaches the output stream. Unlike
    /// bench/terminal-echo.py, which drives the <c>ferry</c> process through pipes, nothing but the client library, the
    /// connection, the server and the remote terminal is in the path. The keys go through a pipe whose reader continues
    /// on the writer's thread, so typing a key sends its frame at once.
    /// </summary>
    public static async Task RunAsync(RunContext ctx)
    {
        // A cooked terminal line holds 4095 characters; the keys all go on one line.
        var count = ctx.Args.Int("--count", 1000, 1, 3000);
        var warmup = ctx.Args.Int("--warmup", 100, 0, 1000);
        var report = ctx.Report;
        report.Set("count", count);
        report.Set("warmup", warmup);
        report.Set("command", "cat (terminal)");

        await using var client = await ctx.ConnectFirstAsync(ctx.Token);
        var keys = new Pipe(new PipeOptions(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, useSynchronizationContext: false));
        var echoes = new EchoSink();
        var request = ExecRequest.Command("cat") with { Terminal = new RemoteTerminal() };
        var run = client.ExecAsync(request, keys.Reader.AsStream(), echoes, echoes, options: null, ctx.Token);

        var samples = new List<double>(count);
        var key = new byte[] { (byte)'x' };
        for (var i = 0; i < warmup + count + 1; i++)
        {
            ctx.Token.ThrowIfCancellationRequested();
            var echoed = echoes.Expect(key[0]);
            var started = Stopwatch.GetTimestamp();
            await keys.Writer.WriteAsync(key, ctx.Token);
            // The first key also waits for the command to start.
            await echoed.WaitAsync(i == 0 ? EchoTimeout * 2 : EchoTimeout, ctx.Token);
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (i > warmup)
                samples.Add(elapsed);
            report.Set("echoes_done", samples.Count);
        }

        // End the line, then end of file: cat exits.
        await keys.Writer.WriteAsync("\n\u0004"u8.ToArray(), ctx.Token);
        var result = await run.WaitAsync(EchoTimeout, ctx.Token);
        if (result.ExitCode != 0 || result.TimedOut || result.Killed)
            throw new InvalidOperationException($"cat on the terminal ended with exit code {result.ExitCode} (timed out: {result.TimedOut}, killed: {result.Killed}).");
        Stats.AddMilliseconds(report, "", samples);
        ctx.Note($"{count} keystroke echoes on an open terminal (in-process client): median {Stats.Median(samples) * 1000:0.0} us.");
    }
}
