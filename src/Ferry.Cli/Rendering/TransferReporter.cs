using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Spectre.Console;

namespace Ferry.Cli.Rendering;

/// <summary>
/// Shows a transfer to the user: Spectre progress bars on a terminal, plain lines when output is redirected, JSON lines
/// with <c>--json</c>, nothing with <c>--quiet</c>. Failures are not shown here: the command prints them on stderr.
/// </summary>
internal abstract class TransferReporter : TransferObserver
{
    /// <summary>Picks the reporter for the command line and the environment.</summary>
    public static TransferReporter Create(bool json, bool quiet, CliEnvironment environment, TextWriter output, int expectedFiles) =>
        json ? new JsonReporter(output, environment.Time)
        : quiet ? new QuietReporter()
        : environment.Terminal is { } terminal ? new SpectreReporter(terminal, environment.Time, expectedFiles)
        : new PlainReporter(output, environment.Time);

    private readonly ConcurrentDictionary<FileTransfer, bool> _unfinished = new();

    /// <summary>
    /// Runs the transfer inside whatever display the reporter keeps up (a live progress area on a terminal). If the
    /// transfer ends with an exception (a broken connection, Ctrl-C), files that had started and not finished are
    /// reported as failed with it.
    /// </summary>
    public async Task<T> RunAsync<T>(Func<Task<T>> transfer)
    {
        try
        {
            return await DisplayAsync(transfer).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            foreach (var file in _unfinished.Keys)
                OnFailed(file, ex);
            throw;
        }
    }

    protected virtual Task<T> DisplayAsync<T>(Func<Task<T>> transfer) => transfer();

    public sealed override void OnStarted(FileTransfer file, long size, long resumedFrom)
    {
        _unfinished[file] = true;
        Started(file, size, resumedFrom);
    }

    public sealed override void OnProgress(FileTransfer file, long bytesDone) => Progressed(file, bytesDone);

    public sealed override void OnCompleted(FileTransfer file, TransferResult result)
    {
        _unfinished.TryRemove(file, out _);
        Completed(file, result);
    }

    public sealed override void OnFailed(FileTransfer file, Exception error)
    {
        _unfinished.TryRemove(file, out _);
        Failed(file, error);
    }

    protected virtual void Started(FileTransfer file, long size, long resumedFrom) { }
    protected virtual void Progressed(FileTransfer file, long bytesDone) { }
    protected virtual void Completed(FileTransfer file, TransferResult result) { }
    protected virtual void Failed(FileTransfer file, Exception error) { }

    /// <summary>Called once at the end with every file's outcome.</summary>
    public virtual void Summarize(string verb, IReadOnlyList<TransferResult> completed, TimeSpan elapsed) { }

    /// <summary>The file's remote path as shown to a person: control characters escaped (names may come from a server's listing).</summary>
    protected static string Label(FileTransfer file) => Ferry.Protocol.Text.ControlCharacters.Escape(file.RemotePath);

    private sealed class QuietReporter : TransferReporter;

    /// <summary>Redirected output: a line when a file is done, and a progress line at most every 2 s per file.</summary>
    private sealed class PlainReporter(TextWriter output, TimeProvider time) : TransferReporter
    {
        private static readonly TimeSpan s_every = TimeSpan.FromSeconds(2);
        private readonly ConcurrentDictionary<FileTransfer, (long Started, long LastLine, long Size, long From)> _files = new();
        private readonly Lock _lock = new();

        protected override void Started(FileTransfer file, long size, long resumedFrom)
        {
            var now = time.GetTimestamp();
            _files[file] = (now, now, size, resumedFrom);
            if (resumedFrom > 0)
                Write($"{Label(file)}: resuming at {Sizes.Human(resumedFrom)} of {Sizes.Human(size)}");
        }

        protected override void Progressed(FileTransfer file, long bytesDone)
        {
            if (!_files.TryGetValue(file, out var state) || time.GetElapsedTime(state.LastLine) < s_every || bytesDone >= state.Size)
                return;
            _files[file] = state with { LastLine = time.GetTimestamp() };
            var elapsed = time.GetElapsedTime(state.Started);
            var rate = elapsed.TotalSeconds > 0 ? (bytesDone - state.From) / elapsed.TotalSeconds : 0;
            var left = rate > 0 ? string.Create(CultureInfo.InvariantCulture, $", {(state.Size - bytesDone) / rate:0} s left") : "";
            var percent = state.Size > 0 ? 100.0 * bytesDone / state.Size : 100;
            Write(string.Create(CultureInfo.InvariantCulture,
                $"{Label(file)}: {Sizes.Human(bytesDone)} of {Sizes.Human(state.Size)} ({percent:0}%), {Sizes.Human(rate)}/s{left}"));
        }

        protected override void Completed(FileTransfer file, TransferResult result)
        {
            _files.TryRemove(file, out _);
            if (result.AlreadyUpToDate)
                Write($"{Label(file)}: already up to date ({Sizes.Human(result.Bytes)}, {result.Checksum} {result.Hash})");
            else
                Write($"{Label(file)}: {Sizes.Human(result.Bytes)} in {Sizes.Seconds(result.Elapsed)} ({Sizes.Rate(result.BytesTransferred, result.Elapsed)}), {result.Checksum} {result.Hash}");
        }

        protected override void Failed(FileTransfer file, Exception error) => _files.TryRemove(file, out _);

        public override void Summarize(string verb, IReadOnlyList<TransferResult> completed, TimeSpan elapsed)
        {
            if (completed.Count > 1)
            {
                var bytes = completed.Sum(r => r.Bytes);
                Write($"{verb}: {completed.Count} files, {Sizes.Human(bytes)} in {Sizes.Seconds(elapsed)} ({Sizes.Rate(bytes, elapsed)})");
            }
        }

        private void Write(string line)
        {
            lock (_lock)
                output.WriteLine(line);
        }
    }

    /// <summary>--json: one event per line on stdout; progress at most once a second per file.</summary>
    private sealed class JsonReporter(TextWriter output, TimeProvider time) : TransferReporter
    {
        private static readonly TimeSpan s_every = TimeSpan.FromSeconds(1);
        private readonly ConcurrentDictionary<FileTransfer, (long LastLine, long Size)> _files = new();
        private readonly Lock _lock = new();

        protected override void Started(FileTransfer file, long size, long resumedFrom)
        {
            _files[file] = (time.GetTimestamp(), size);
            Emit(new TransferEvent { Event = "start", Path = file.RemotePath, Local = file.LocalPath, Bytes = size, Offset = resumedFrom > 0 ? resumedFrom : null });
        }

        protected override void Progressed(FileTransfer file, long bytesDone)
        {
            if (!_files.TryGetValue(file, out var state) || time.GetElapsedTime(state.LastLine) < s_every || bytesDone >= state.Size)
                return;
            _files[file] = state with { LastLine = time.GetTimestamp() };
            Emit(new TransferEvent { Event = "progress", Path = file.RemotePath, Local = file.LocalPath, Bytes = bytesDone, Total = state.Size });
        }

        protected override void Completed(FileTransfer file, TransferResult result)
        {
            _files.TryRemove(file, out _);
            Emit(new TransferEvent
            {
                Event = "done",
                Path = result.RemotePath,
                Local = result.LocalPath,
                Bytes = result.Bytes,
                Seconds = Math.Round(result.Seconds, 6),
                Checksum = result.Checksum,
                Hash = result.Hash,
                UpToDate = result.AlreadyUpToDate ? true : null,
            });
        }

        protected override void Failed(FileTransfer file, Exception error)
        {
            _files.TryRemove(file, out _);
            Emit(new TransferEvent { Event = "error", Path = file.RemotePath, Local = file.LocalPath, Code = ExitCodes.ErrorCode(error), Message = error.Message });
        }

        private void Emit(TransferEvent e)
        {
            var line = JsonSerializer.Serialize(e, CliJsonContext.Output.TransferEvent);
            lock (_lock)
                output.WriteLine(line);
        }
    }

    /// <summary>A terminal: one Spectre progress bar per file with size, rate and time left.</summary>
    private sealed class SpectreReporter(IAnsiConsole console, TimeProvider time, int expectedFiles) : TransferReporter
    {
        /// <summary>Above this many files, finished bars are removed so the live area stays small.</summary>
        private const int KeepFinishedUpTo = 10;
        private readonly ConcurrentDictionary<FileTransfer, ProgressTask> _tasks = new();
        private ProgressContext? _context;

        protected override async Task<T> DisplayAsync<T>(Func<Task<T>> transfer)
        {
            var progress = new Progress(console, time)
                .AutoClear(false)
                .HideCompleted(expectedFiles > KeepFinishedUpTo)
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
                return await transfer().ConfigureAwait(false);
            }).ConfigureAwait(false);
        }

        protected override void Started(FileTransfer file, long size, long resumedFrom)
        {
            if (_context is null)
                return;
            var task = _context.AddTask(Markup.Escape(Label(file)), autoStart: true, maxValue: Math.Max(size, 1));
            task.Value = resumedFrom;
            _tasks[file] = task;
        }

        protected override void Progressed(FileTransfer file, long bytesDone)
        {
            if (_tasks.TryGetValue(file, out var task))
                task.Value = bytesDone;
        }

        protected override void Completed(FileTransfer file, TransferResult result)
        {
            if (_tasks.TryRemove(file, out var task))
            {
                task.Value = task.MaxValue;
                task.StopTask();
            }
            else if (result.AlreadyUpToDate && _context is not null)
            {
                var done = _context.AddTask(Markup.Escape($"{Label(file)} (already up to date)"), autoStart: false, maxValue: 1);
                done.Value = 1;
                done.StopTask();
            }
        }

        protected override void Failed(FileTransfer file, Exception error)
        {
            if (_tasks.TryRemove(file, out var task))
            {
                task.Description = $"[red]{Markup.Escape(Label(file))} (failed)[/]";
                task.StopTask();
            }
        }

        public override void Summarize(string verb, IReadOnlyList<TransferResult> completed, TimeSpan elapsed)
        {
            if (completed.Count > 1)
            {
                var bytes = completed.Sum(r => r.Bytes);
                console.MarkupLine(Markup.Escape($"{verb}: {completed.Count} files, {Sizes.Human(bytes)} in {Sizes.Seconds(elapsed)} ({Sizes.Rate(bytes, elapsed)})"));
            }
        }
    }
}
