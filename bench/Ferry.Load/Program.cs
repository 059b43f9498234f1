using System.Runtime.InteropServices;
using System.Runtime.Versioning;

// Reads /proc (server memory, file limits, listen-queue counters) and uses Unix file modes: Linux only.
[assembly: SupportedOSPlatform("linux")]

namespace Ferry.Load;

/// <summary>
/// ferry-load MODE --server HOST:PORT [options]: load and latency figures for a Ferry server on loopback, as exactly one
/// JSON line on stdout (notes go to stderr). Exit codes: 0 done, 1 failed (the JSON says why, with the figures gathered
/// so far), 2 usage, 3 stopped by --timeout, 130/143 interrupted by SIGINT/SIGTERM. See README.md.
/// </summary>
public static class Program
{
    private const int ExitFailed = 1, ExitUsage = 2, ExitTimeout = 3;

    /// <summary>After --timeout, how long the run may take to wind down before the process exits regardless.</summary>
    private static readonly TimeSpan WatchdogGrace = TimeSpan.FromSeconds(20);

    private const string Usage = """
        usage: ferry-load MODE --server HOST:PORT [--plain] [--timeout SECONDS=300] [--connect-timeout SECONDS=60] [options]

          exec-rtt        one connection, runs 'true' (argv) --runs times      [--runs 1000] [--warmup 50]
          exec-fresh      per run: connect (+TLS, login), 'true', close       [--runs 50] [--warmup 3]
          term-echo       one connection, 'cat' on a remote terminal: one key typed, its echo back, --count times
                          [--count 1000] [--warmup 100]
          concurrent-put  single-stream baseline, then --clients clients each connecting and uploading one --size file at once
                          [--clients 1000] [--size 1MiB] [--concurrency-limit none|N] [--barrier before-connect|before-upload]
                          [--baseline files|one-file|none] [--server-pid PID] [--keep]
          idle            server VmRSS per idle logged-in connection           --server-pid PID [--connections 5000]
                          [--parallel 64] [--settle 3] [--samples 5] [--warmup-connections 64]

        Loopback servers only. Login from FERRY_USER and FERRY_KEY (none for a server in --insecure-no-auth mode).
        TLS by default (certificate pinned on first use in a private temporary known_servers); --plain for plain TCP.
        Many connections need many files: run 'ulimit -n 65536' first. One JSON line on stdout; notes on stderr.
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args is ["--help" or "-h" or "help", ..] || (args.Length > 1 && args.Skip(1).Any(a => a is "--help" or "-h")))
        {
            Console.Error.WriteLine(Usage);
            return 0;
        }

        var report = new Report(args.Length > 0 && LoadArgs.ModeNames.Contains(args[0]) ? args[0] : "usage");
        RunContext ctx;
        try
        {
            ctx = new RunContext(LoadArgs.Parse(args), report);
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine($"ferry-load: {ex.Message}");
            Console.Error.WriteLine(Usage);
            report.Emit(ok: false, ex.Message);
            return ExitUsage;
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException)
        {
            // Resolving 'localhost' failed, or the environment could not be read.
            var description = Report.Describe(ex);
            Console.Error.WriteLine($"ferry-load: {description}");
            report.Emit(ok: false, description);
            return ExitFailed;
        }

        await using (ctx)
        {
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; ctx.Stop("SIGINT"); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; ctx.Stop("SIGTERM"); });
            // If something does not observe the stop token, the process still ends, with its one JSON line.
            await using var watchdog = new Timer(_ =>
            {
                var message = $"{ctx.StopDescription}, and did not wind down within {WatchdogGrace.TotalSeconds:0} s; exiting.";
                Console.Error.WriteLine($"ferry-load: {message}");
                report.Emit(ok: false, message);
                Environment.Exit(ExitTimeout);
            }, null, ctx.Timeout + WatchdogGrace, Timeout.InfiniteTimeSpan);

            ctx.StartClock();
            report.Set("timeout_seconds", ctx.Timeout.TotalSeconds);
            report.Set("loadavg_start", ProcInfo.LoadAverage());
            try
            {
                var run = ctx.Args.Mode switch
                {
                    LoadArgs.ExecRtt => ExecModes.ExecRttAsync(ctx),
                    LoadArgs.ExecFresh => ExecModes.ExecFreshAsync(ctx),
                    LoadArgs.TermEcho => TerminalEcho.RunAsync(ctx),
                    LoadArgs.ConcurrentPut => ConcurrentPut.RunAsync(ctx),
                    LoadArgs.Idle => Idle.RunAsync(ctx),
                    _ => throw new UsageException($"unknown mode '{ctx.Args.Mode}'."),
                };
                await run;
                report.Set("elapsed_seconds", ctx.ElapsedSeconds);
                report.Set("loadavg_end", ProcInfo.LoadAverage());
                report.Emit(ok: true, error: null);
                return 0;
            }
            catch (UsageException ex)
            {
                Console.Error.WriteLine($"ferry-load: {ex.Message}");
                report.Emit(ok: false, ex.Message);
                return ExitUsage;
            }
            catch (Exception ex)
            {
                report.Set("elapsed_seconds", ctx.ElapsedSeconds);
                report.Set("loadavg_end", ProcInfo.LoadAverage());
                if (ctx.Stopped)
                {
                    var message = ctx.StopDescription;
                    Console.Error.WriteLine($"ferry-load: {message} (last error: {Report.Describe(ex)})");
                    report.Emit(ok: false, message);
                    return ctx.StopReason switch { "SIGINT" => 130, "SIGTERM" => 143, _ => ExitTimeout };
                }
                var description = ex is LoadFailureException ? ex.Message : Report.Describe(ex);
                Console.Error.WriteLine($"ferry-load: {description}");
                // Expected failures (network, server refusals, timeouts) are described in one line; anything else is a bug here.
                if (ex is not (LoadFailureException or InvalidOperationException or Ferry.Protocol.Errors.FerryException or IOException
                    or System.Net.Sockets.SocketException or TimeoutException or System.Security.Authentication.AuthenticationException))
                    Console.Error.WriteLine(ex);
                report.Emit(ok: false, description);
                return ExitFailed;
            }
        }
    }
}
