using System.CommandLine;
using Ferry.Client;
using Ferry.Client.Transfers;
using Ferry.Cli.Globbing;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Text;

namespace Ferry.Cli.Commands;

/// <summary>
/// <c>ferry put LOCAL... [REMOTE]</c>, with cp's rules: with several sources the last argument is the target and must be
/// a remote directory (one ending in '/' is created); with one source and a target, the target is the new name unless it
/// is an existing directory; with one argument the file goes to the root under its own name.
/// </summary>
internal static class PutCommand
{
    public static Command Create(CliEnvironment environment)
    {
        var options = new TransferOptions();
        var paths = new Argument<string[]>("paths")
        {
            Description = "Local files (wildcards allowed), then the remote target: a directory, or a file name for a single file. Default: the root.",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("put", "Upload files or directory trees to the server. Each file is checked end to end and appears under its name only when complete.\n\n"
            + "Examples:\n  ferry put report.pdf docs/\n  ferry put '*.txt' notes/\n  ferry put -r photos backup/photos")
        {
            paths,
        };
        foreach (var option in options.All)
            command.Options.Add(option);

        command.SetAction((parse, ct) => CommonOptions.RunClientAsync(parse, options.Server, async address =>
        {
            await options.NoteDeprecatedAsync(parse).ConfigureAwait(false);
            if (!options.TryBandwidthLimitOf(parse, out var bandwidthLimit, out var bandwidthProblem))
                return await CommonOptions.FailAsync(parse, options.Json, ExitCodes.Usage, ExitCodes.ErrorCode(ExitCodes.Usage), bandwidthProblem!).ConfigureAwait(false);
            var args = parse.GetValue(paths)!;
            var patterns = args.Length == 1 ? args : args[..^1];
            var target = args.Length == 1 ? null : args[^1];
            var remoteTarget = target is null ? "" : RemotePath.Normalize(target);
            var recursive = parse.GetValue(options.Recursive);

            var sources = new List<string>();
            foreach (var pattern in patterns)
            {
                var matches = LocalGlob.Expand(pattern);
                if (matches.Count == 0)
                    return await CommonOptions.FailAsync(parse, options.Json, ExitCodes.NotFound, FerryErrorCode.NotFound.ToWire(),
                        $"no local file matches '{pattern}'; check the name, or quote a wildcard so that ferry expands it.").ConfigureAwait(false);
                sources.AddRange(matches);
            }

            await using var client = await ClientConnector.ConnectAsync(parse, address, ct).ConfigureAwait(false);

            // Is the target a directory to put things into, or the new name of the one source?
            bool intoDirectory;
            if (remoteTarget.Length == 0)
            {
                intoDirectory = true;
            }
            else
            {
                var existing = await TryStatAsync(client, remoteTarget, ct).ConfigureAwait(false);
                intoDirectory = existing?.Type == "dir" || target!.EndsWith('/') || (sources.Count > 1 && existing is null);
                if (sources.Count > 1 && existing is not null && existing.Type != "dir")
                    return await CommonOptions.FailAsync(parse, options.Json, ExitCodes.Usage, FerryErrorCode.NotADirectory.ToWire(),
                        $"the target '{remoteTarget}' is not a directory; several files can only go into a directory.").ConfigureAwait(false);
                if (sources.Count > 1 && existing is null && !target!.EndsWith('/'))
                    return await CommonOptions.FailAsync(parse, options.Json, ExitCodes.NotFound, FerryErrorCode.NotFound.ToWire(),
                        $"the target directory '{remoteTarget}' does not exist; create it with 'ferry mkdir -p {remoteTarget}' or write '{remoteTarget}/'.").ConfigureAwait(false);
                if (intoDirectory && existing is null)
                    await client.MkdirAsync(remoteTarget, parents: true, ct).ConfigureAwait(false);
            }

            var files = new List<FileTransfer>();
            var trees = new List<(string Local, string Remote)>();
            var failures = new List<TransferFailure>();
            foreach (var source in sources)
            {
                var name = LocalName(source);
                var remote = intoDirectory ? RemotePath.Combine(remoteTarget, name) : remoteTarget;
                if (Directory.Exists(source))
                {
                    if (recursive)
                        trees.Add((source, remote));
                    else
                        failures.Add(TransferOptions.LocalFailure(source, "", FerryErrorCode.IsADirectory, $"'{source}' is a directory; use -r to upload it with its contents."));
                }
                else if (File.Exists(source))
                {
                    files.Add(new FileTransfer(source, remote));
                }
                else
                {
                    failures.Add(TransferOptions.LocalFailure(source, "", FerryErrorCode.NotFound, $"There is no local file '{source}'."));
                }
            }

            var putOptions = new PutOptions
            {
                Force = parse.GetValue(options.Force),
                Resume = options.ResumeOf(parse),
                Checksum = options.ChecksumOf(parse),
                BandwidthLimit = bandwidthLimit,
            };
            var reporter = options.Reporter(parse, environment, trees.Count > 0 ? int.MaxValue : files.Count);
            foreach (var early in failures)
                reporter.OnFailed(new FileTransfer(early.LocalPath, early.RemotePath), early.Error);
            var started = environment.Time.GetTimestamp();
            var completed = new List<TransferResult>();
            var skippedLinks = new List<string>();
            var streams = options.ParallelStreamsFor(parse, files.Count, trees.Count);
            await reporter.RunAsync(async () =>
            {
                if (streams > 1)
                    await TransferOptions.RunParallelAsync(() => client.PutFileParallelAsync(files[0].LocalPath, files[0].RemotePath, streams, putOptions, reporter, ct),
                        files[0], completed, failures).ConfigureAwait(false);
                else if (files.Count > 0)
                    Collect(await client.PutFilesAsync(files, putOptions, reporter, ct).ConfigureAwait(false), completed, failures);
                foreach (var (local, remote) in trees)
                {
                    var tree = await client.PutTreeAsync(local, remote, putOptions, reporter, ct).ConfigureAwait(false);
                    Collect(tree, completed, failures);
                    skippedLinks.AddRange(tree.SkippedLinks);
                }
                return true;
            }).ConfigureAwait(false);
            // Like rsync without -L: links inside a tree are not followed (their target could be any file, e.g. a key).
            foreach (var link in skippedLinks)
                await parse.InvocationConfiguration.Error.WriteLineAsync(
                    $"ferry: skipping symbolic link '{ControlCharacters.Escape(link)}' (links inside a tree are not followed; put its target by name to send it).").ConfigureAwait(false);
            reporter.Summarize("put", completed, environment.Time.GetElapsedTime(started));
            return await TransferOptions.FinishAsync(parse, address, failures).ConfigureAwait(false);
        }, options.Json));
        return command;
    }

    internal static void Collect(BatchTransferResult batch, List<TransferResult> completed, List<TransferFailure> failures)
    {
        completed.AddRange(batch.Completed);
        failures.AddRange(batch.Failed);
    }

    /// <summary>The name a local path contributes at the target: "a/b.txt" → "b.txt", "photos/" → "photos", "." → the directory's name.</summary>
    private static string LocalName(string source)
    {
        var full = Path.GetFullPath(source).TrimEnd(Path.DirectorySeparatorChar, '/');
        var name = Path.GetFileName(full);
        return name.Length > 0 ? name : "root";
    }

    internal static async Task<Ferry.Protocol.Messages.FileEntry?> TryStatAsync(FerryClient client, string path, CancellationToken ct)
    {
        try
        {
            return await client.StatEntryAsync(path, ct).ConfigureAwait(false);
        }
        catch (FerryRemoteException ex) when (ex.Code == FerryErrorCode.NotFound)
        {
            return null;
        }
    }
}
