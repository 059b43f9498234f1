using System.CommandLine;
using Ferry.Client.Sync;
using Ferry.Cli.Rendering;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Sync.Caching;
using Ferry.Sync.Filtering;

namespace Ferry.Cli.Commands;

/// <summary>
/// <c>ferry sync SRC DST</c>: makes DST a mirror of SRC's contents. Exactly one side is remote, written with a leading
/// colon (<c>:backups/site</c>, under the user's root); the contents of SRC become the contents of DST, with no
/// trailing-slash rules (docs/cli.md, "ferry sync").
/// </summary>
internal static class SyncCommand
{
    public static Command Create(CliEnvironment environment)
    {
        var server = CommonOptions.Server();
        var json = new Option<bool>("--json") { Description = "Print newline-delimited JSON events (item, skipped, error, progress, summary) on stdout." };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing but errors." };
        var delete = new Option<bool>("--delete") { Description = "Remove what SRC lacks from DST (only after everything else succeeded, never after an error)." };
        var maxDelete = new Option<int?>("--max-delete") { Description = "Refuse to delete more than N entries: with more, nothing is deleted and ferry exits with 13." };
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "Print what would be done, in the same lines and order as the real run, and change nothing." };
        var checksum = new Option<bool>("--checksum", "-c") { Description = "Compare files by whole-file XXH3-128 (from the hash caches) instead of size and modification time." };
        var exclude = new Option<string[]>("--exclude") { Description = "Leave out paths matching PATTERN (gitignore syntax; repeatable; with --include, the first match wins).", AllowMultipleArgumentsPerToken = false };
        var include = new Option<string[]>("--include") { Description = "Keep paths matching PATTERN even if a later rule or a .ferryignore excludes them (repeatable)." };
        var excludeFrom = new Option<string[]>("--exclude-from") { Description = "Read exclude patterns from FILE, one a line (!pattern includes); repeatable." };
        var compress = new Option<bool>("--compress", "-z") { Description = "Compress file data with zstd (blocks that do not shrink go raw)." };
        var bandwidth = new Option<string?>("--bwlimit") { Description = "Limit file data to RATE bytes per second: 500K, 10M, 1.5G (no unit: KiB/s; 0: no limit)." };
        var source = new Argument<string>("SRC") { Description = "What to mirror: a local folder, or :PATH on the server." };
        var destination = new Argument<string>("DST") { Description = "The mirror: a local folder, or :PATH on the server (created when missing)." };
        var command = new Command("sync", "Make DST a mirror of SRC's contents, sending only what changed (and of a changed file only the changed parts). "
            + "Exactly one side is remote, written :PATH (relative to your root on --server).\n\n"
            + "Examples:\n  ferry sync ./site :backups/site\n  ferry sync --delete -n :backups/site ./site\n  ferry sync -z --exclude '*.tmp' --bwlimit 2M ./photos :photos")
        {
            source,
            destination,
        };
        foreach (var option in new Option[] { server, delete, maxDelete, dryRun, checksum, exclude, include, excludeFrom, compress, bandwidth, quiet, json })
            command.Options.Add(option);

        command.SetAction((parse, ct) => CommonOptions.RunClientAsync(parse, server, async address =>
        {
            var from = parse.GetValue(source)!;
            var to = parse.GetValue(destination)!;
            var push = to.StartsWith(':');
            if (from.StartsWith(':') == push)
                return await CommonOptions.FailAsync(parse, json, ExitCodes.Usage, ExitCodes.ErrorCode(ExitCodes.Usage),
                    push ? "both sides are remote; exactly one side is written :PATH (a folder on the server), the other is a local folder."
                         : "both sides are local; write the remote side as :PATH (a folder on the server), for example: ferry sync ./site :backups/site").ConfigureAwait(false);
            var (localRoot, remoteText) = push ? (from, to) : (to, from);
            if (localRoot.Length == 0)
                return await CommonOptions.FailAsync(parse, json, ExitCodes.Usage, ExitCodes.ErrorCode(ExitCodes.Usage), "the local folder is empty; write . for the current folder.").ConfigureAwait(false);
            var remoteRoot = RemotePath.Normalize(remoteText[1..]); // refuses escapes before connecting
            if (parse.GetValue(maxDelete) is < 0)
                return await CommonOptions.FailAsync(parse, json, ExitCodes.Usage, ExitCodes.ErrorCode(ExitCodes.Usage), "--max-delete must be 0 or more.").ConfigureAwait(false);
            long? rate = null;
            if (parse.GetValue(bandwidth) is { } rateText && !BandwidthRate.TryParse(rateText, out rate, out var rateProblem))
                return await CommonOptions.FailAsync(parse, json, ExitCodes.Usage, ExitCodes.ErrorCode(ExitCodes.Usage), $"--bwlimit: {rateProblem}").ConfigureAwait(false);
            var rules = await SyncFilterArguments.ReadAsync(parse.Tokens, ct).ConfigureAwait(false);

            // Read only if a file has to be hashed or chunked: a run that compares sizes and times never opens it.
            var cachePath = HashCachePath(environment);
            var cache = new Lazy<Task<HashCache>>(() => HashCache.LoadAsync(cachePath, cancellationToken: CancellationToken.None));
            await using var client = await ClientConnector.ConnectAsync(parse, address, ct).ConfigureAwait(false);
            var request = new SyncRequest
            {
                Direction = push ? SyncDirection.Push : SyncDirection.Pull,
                LocalRoot = localRoot,
                RemoteRoot = remoteRoot,
                Filter = new SyncFilter(rules),
                Delete = parse.GetValue(delete),
                MaxDelete = parse.GetValue(maxDelete),
                Checksum = parse.GetValue(checksum),
                DryRun = parse.GetValue(dryRun),
                Transfer = new FileSyncOptions
                {
                    Compress = parse.GetValue(compress),
                    BandwidthLimit = rate,
                    LocalDigester = new FileDigester(() => cache.Value, workers: Math.Clamp(Environment.ProcessorCount, 1, 4)),
                },
            };
            var reporter = SyncReporter.Create(parse.GetValue(json), parse.GetValue(quiet), environment, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
            var started = environment.Time.GetTimestamp();
            var engine = new SyncEngine(new RemoteTree(client));
            var report = await reporter.RunAsync(() => engine.RunAsync(request, reporter, ct)).ConfigureAwait(false);
            reporter.Summarize(report, environment.Time.GetElapsedTime(started));
            if (cache.IsValueCreated)
                await SaveCacheAsync(await cache.Value.ConfigureAwait(false), reporter).ConfigureAwait(false);

            if (report.DeleteSkipped)
                reporter.WriteError($"ferry: --delete was not carried out: {report.Errors.Count} error{(report.Errors.Count == 1 ? "" : "s")} occurred; nothing was deleted.");
            if (report.Errors.Count > 0)
            {
                var first = report.Errors[0];
                var exit = ExitCodeOf(first.Code, push);
                return await CommonOptions.FailAsync(parse, json, exit, first.Code,
                    $"{report.Errors.Count} of the sync's steps failed; the first: {Ferry.Protocol.Text.ControlCharacters.Escape(first.Path.Length == 0 ? "." : first.Path)}: {Ferry.Protocol.Text.ControlCharacters.Escape(first.Message)}").ConfigureAwait(false);
            }
            if (report.Plan.DeletesRefused is { } refused)
                return await CommonOptions.FailAsync(parse, json, ExitCodes.DeleteLimit, ExitCodes.ErrorCode(ExitCodes.DeleteLimit),
                    $"--delete would remove {refused} entries, more than --max-delete {request.MaxDelete} allows; nothing was deleted.").ConfigureAwait(false);
            return ExitCodes.Success;
        }, json));
        return command;
    }

    /// <summary>
    /// The client's hash cache: <c>$XDG_CACHE_HOME/ferry/hash-cache</c>, else <c>~/.cache/ferry/hash-cache</c>. Bounded
    /// (<see cref="HashCacheLimits.Default"/>) and safe to delete at any time.
    /// </summary>
    public static string HashCachePath(CliEnvironment environment)
    {
        if (environment.CacheDirectory is { } explicitDirectory)
            return Path.Combine(explicitDirectory, "hash-cache");
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var baseDir = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(baseDir, "ferry", "hash-cache");
    }

    private static async Task SaveCacheAsync(HashCache cache, SyncReporter reporter)
    {
        try
        {
            await cache.SaveAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A cache that cannot be saved only costs re-reading files next time.
            reporter.WriteError($"ferry: the hash cache {cache.FilePath} could not be saved: {ex.Message}");
        }
    }

    /// <summary>
    /// The exit code of a step's error code: the wire codes as elsewhere (docs/cli.md), local failures as local_io (a pull
    /// reports a local file that could not be written as io_error).
    /// </summary>
    private static int ExitCodeOf(string code, bool push) => code switch
    {
        "local_io" => ExitCodes.LocalIo,
        "io_error" when !push => ExitCodes.LocalIo,
        _ => ExitCodes.For(FerryErrorCodes.FromWire(code)),
    };
}
