using System.Globalization;
using System.Text.Json;
using Ferry.Client.Sync;
using Ferry.Protocol.Text;
using Spectre.Console;

namespace Ferry.Cli.Rendering;

/// <summary>
/// Shows a sync: one itemized line per step on stdout (the same lines, in the same order, for a dry run and the real
/// run), a progress bar of the data that really moves on a terminal, and a summary like rsync's --stats. With --json the
/// same as events; with -q only failures. Failures and skipped entries also go to stderr as sentences.
/// </summary>
internal abstract class SyncReporter(TextWriter error, bool quiet) : ISyncObserver
{
    /// <summary>The prefix of the summary line, which no itemized line starts with.</summary>
    public const string SummaryPrefix = "sync: ";

    private readonly Lock _errorLock = new();

    public static SyncReporter Create(bool json, bool quiet, CliEnvironment environment, TextWriter output, TextWriter error) =>
        json ? new JsonSyncReporter(output, error, environment.Time)
        : quiet ? new QuietSyncReporter(error)
        : environment.Terminal is { } terminal ? new TerminalSyncReporter(terminal, error)
        : new PlainSyncReporter(output, error);

    /// <summary>Runs the sync inside the reporter's live display, if it keeps one.</summary>
    public virtual Task<T> RunAsync<T>(Func<Task<T>> sync) => sync();

    public virtual void Planned(SyncPlan plan) { }

    public virtual void Skipped(SyncSkip skip)
    {
        if (!quiet)
            WriteError($"ferry: skipped {ControlCharacters.Escape(skip.Path)}: {skip.Reason}");
    }

    public abstract void Done(SyncAction action);

    public virtual void Failed(SyncProblem problem) =>
        WriteError($"ferry: {ControlCharacters.Escape(problem.Path.Length == 0 ? "." : problem.Path)}: {ControlCharacters.Escape(problem.Message)} ({problem.Code})");

    public virtual void DataMoved(long bytes) { }

    /// <summary>Called once at the end.</summary>
    public virtual void Summarize(SyncReport report, TimeSpan elapsed) { }

    /// <summary>A note for the user on stderr (for example: --delete skipped).</summary>
    public void WriteError(string line)
    {
        lock (_errorLock)
            error.WriteLine(line);
    }

    /// <summary>The summary in words, as the plain and terminal outputs print it.</summary>
    public static string SummaryLine(SyncReport report, TimeSpan elapsed)
    {
        var speedUp = report.SpeedUp is { } s ? string.Create(CultureInfo.InvariantCulture, $"{s:0.00}") : "-";
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{SummaryPrefix}{report.FilesChecked} files checked, {report.FilesChanged} changed, {report.Deleted} deleted; "
            + $"{Sizes.Human(report.BytesSent)} sent, {Sizes.Human(report.BytesReused)} reused, total size {Sizes.Human(report.TotalSize)}, "
            + $"speed-up {speedUp}; {Sizes.Seconds(elapsed)}");
        return report.DryRun ? line + " (dry run)" : line;
    }

    /// <summary>The word of an action, as in its line and the item event.</summary>
    public static string ActionName(SyncAction action) => action.Kind switch
    {
        SyncActionKind.MakeDirectory => "mkdir",
        SyncActionKind.TransferFile => action.Reason == TransferReason.New ? "new" : "changed",
        SyncActionKind.CreateLink => "link",
        SyncActionKind.SetAttributes => "attrs",
        _ => "deleted",
    };

    private sealed class QuietSyncReporter(TextWriter error) : SyncReporter(error, quiet: true)
    {
        public override void Done(SyncAction action) { }
    }

    /// <summary>Redirected output: the lines and the summary, no progress.</summary>
    private sealed class PlainSyncReporter(TextWriter output, TextWriter error) : SyncReporter(error, quiet: false)
    {
        private readonly Lock _lock = new();

        public override void Done(SyncAction action)
        {
            lock (_lock)
                output.WriteLine(ControlCharacters.Escape(action.Line));
        }

        public override void Summarize(SyncReport report, TimeSpan elapsed)
        {
            lock (_lock)
                output.WriteLine(SummaryLine(report, elapsed));
        }
    }

    /// <summary>A terminal: the lines scroll above one Spectre progress bar of the data to send.</summary>
    private sealed class TerminalSyncReporter(IAnsiConsole console, TextWriter error) : SyncReporter(error, quiet: false)
    {
        private ProgressContext? _context;
        private ProgressTask? _task;
        private long _total;
        private long _moved;

        public override async Task<T> RunAsync<T>(Func<Task<T>> sync)
        {
            var progress = new Progress(console)
                .AutoClear(true)
                .Columns(
                    new TaskDescriptionColumn { Alignment = Justify.Left },
                    new ProgressBarColumn(),
                    new PercentageColumn(),
                    new DownloadedColumn(),
                    new TransferSpeedColumn(),
                    new RemainingTimeColumn());
            return await progress.StartAsync(async context =>
            {
                _context = context;
                try
                {
                    return await sync().ConfigureAwait(false);
                }
                finally
                {
                    if (_task is not null)
                    {
                        _task.Value = _task.MaxValue;
                        _task.StopTask();
                    }
                }
            }).ConfigureAwait(false);
        }

        public override void Planned(SyncPlan plan)
        {
            _total = plan.TransferSize;
            if (_context is not null && _total > 0)
                _task = _context.AddTask("sync", autoStart: true, maxValue: _total);
        }

        public override void Done(SyncAction action) => console.WriteLine(ControlCharacters.Escape(action.Line));

        public override void DataMoved(long bytes)
        {
            var moved = Interlocked.Add(ref _moved, bytes);
            if (_task is not null)
                _task.Value = Math.Min(moved, _total); // a compressed or delta transfer moves less than the total, never more
        }

        public override void Summarize(SyncReport report, TimeSpan elapsed) => console.WriteLine(SummaryLine(report, elapsed));
    }

    /// <summary>--json: one event per line.</summary>
    private sealed class JsonSyncReporter(TextWriter output, TextWriter error, TimeProvider time) : SyncReporter(error, quiet: false)
    {
        private static readonly TimeSpan s_every = TimeSpan.FromSeconds(1);
        private readonly Lock _lock = new();
        private long _total;
        private long _moved;
        private long _lastProgress;

        public override void Planned(SyncPlan plan)
        {
            _total = plan.TransferSize;
            _lastProgress = time.GetTimestamp();
        }

        public override void Skipped(SyncSkip skip)
        {
            base.Skipped(skip);
            Emit(new SyncEvent { Event = "skipped", Path = skip.Path, Message = skip.Reason });
        }

        public override void Done(SyncAction action) => Emit(new SyncEvent
        {
            Event = "item",
            Action = ActionName(action),
            Path = action.Path,
            Type = action.Kind == SyncActionKind.CreateLink ? "link" : action.IsDirectory || action.Kind == SyncActionKind.MakeDirectory ? "dir" : "file",
            Size = action.Kind == SyncActionKind.TransferFile ? action.Size : null,
            Target = action.Target,
            Line = action.Line,
        });

        public override void Failed(SyncProblem problem)
        {
            base.Failed(problem);
            Emit(new SyncEvent { Event = "error", Path = problem.Path, Code = problem.Code, Message = problem.Message });
        }

        public override void DataMoved(long bytes)
        {
            var moved = Interlocked.Add(ref _moved, bytes);
            lock (_lock)
            {
                if (time.GetElapsedTime(_lastProgress) < s_every)
                    return;
                _lastProgress = time.GetTimestamp();
            }
            Emit(new SyncEvent { Event = "progress", Bytes = moved, Total = _total });
        }

        public override void Summarize(SyncReport report, TimeSpan elapsed) => Emit(new SyncEvent
        {
            Event = "summary",
            Checked = report.FilesChecked,
            Changed = report.FilesChanged,
            Deleted = report.Deleted,
            BytesSent = report.BytesSent,
            BytesReused = report.BytesReused,
            TotalSize = report.TotalSize,
            SpeedUp = report.SpeedUp is { } s ? Math.Round(s, 2) : null,
            Seconds = Math.Round(elapsed.TotalSeconds, 6),
            DryRun = report.DryRun ? true : null,
            DeleteSkipped = report.DeleteSkipped ? true : null,
        });

        private void Emit(SyncEvent e)
        {
            var line = JsonSerializer.Serialize(e, CliJsonContext.Output.SyncEvent);
            lock (_lock)
            {
                output.WriteLine(line);
                output.Flush();
            }
        }
    }
}
