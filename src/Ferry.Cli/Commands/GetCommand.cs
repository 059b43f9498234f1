using System.CommandLine;
using Ferry.Client;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;

namespace Ferry.Cli.Commands;

/// <summary>
/// <c>ferry get REMOTE... [LOCAL]</c>, with cp's rules: with several sources the last argument is the target and must be
/// a local directory (one ending in '/' is created); with one source and a target, the target is the new name unless it
/// is an existing directory; with one argument the file goes to the current directory under its own name.
/// </summary>
internal static class GetCommand
{
    public static Command Create(CliEnvironment environment)
    {
        var options = new TransferOptions();
        var paths = new Argument<string[]>("paths")
        {
            Description = "Remote files (relative to your root), then the local target: a directory, or a file name for a single file. Default: the current directory.",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("get", "Download files or directory trees from the server. Each file is checked end to end and appears under its name only when complete.\n\n"
            + "Examples:\n  ferry get docs/report.pdf\n  ferry get docs/a.txt docs/b.txt ./inbox/\n  ferry get -r backup/photos ./photos")
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
            var remotes = (args.Length == 1 ? args : args[..^1]).Select(RemotePath.Normalize).ToList(); // refuses escapes before connecting
            var target = args.Length == 1 ? "." : args[^1];
            var recursive = parse.GetValue(options.Recursive);

            var intoDirectory = Directory.Exists(target) || target.EndsWith('/') || target.EndsWith(Path.DirectorySeparatorChar);
            if (remotes.Count > 1 && !intoDirectory)
            {
                return File.Exists(target)
                    ? await CommonOptions.FailAsync(parse, options.Json, ExitCodes.Usage, FerryErrorCode.NotADirectory.ToWire(),
                        $"the target '{target}' is not a directory; several files can only go into a directory.").ConfigureAwait(false)
                    : await CommonOptions.FailAsync(parse, options.Json, ExitCodes.NotFound, FerryErrorCode.NotFound.ToWire(),
                        $"the target directory '{target}' does not exist; create it (mkdir -p {target}) or write '{target}/'.").ConfigureAwait(false);
            }

            await using var client = await ClientConnector.ConnectAsync(parse, address, ct).ConfigureAwait(false);

            var files = new List<FileTransfer>();
            var trees = new List<(string Remote, string Local)>();
            var failures = new List<TransferFailure>();
            foreach (var remote in remotes)
            {
                Ferry.Protocol.Messages.FileEntry? entry;
                try
                {
                    entry = await client.StatEntryAsync(remote, ct).ConfigureAwait(false);
                }
                catch (FerryRemoteException ex) when (!client.IsBroken)
                {
                    failures.Add(new TransferFailure("", remote, ex));
                    continue;
                }
                var name = remote.Length == 0 ? "" : RemotePath.FileName(remote);
                var local = intoDirectory ? Path.Combine(target, name) : target;
                if (entry.Type == "dir")
                {
                    if (recursive)
                        trees.Add((remote, local));
                    else
                        failures.Add(TransferOptions.LocalFailure("", remote, FerryErrorCode.IsADirectory, $"'{remote}' is a directory; use -r to download it with its contents."));
                }
                else
                {
                    files.Add(new FileTransfer(local, remote));
                }
            }
            if (intoDirectory && (files.Count > 0 || trees.Count > 0))
                Directory.CreateDirectory(target);

            var getOptions = new GetOptions
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
            var streams = options.ParallelStreamsFor(parse, files.Count, trees.Count);
            await reporter.RunAsync(async () =>
            {
                if (streams > 1)
                    await TransferOptions.RunParallelAsync(() => client.GetFileParallelAsync(files[0].RemotePath, files[0].LocalPath, streams, getOptions, reporter, ct),
                        files[0], completed, failures).ConfigureAwait(false);
                else if (files.Count > 0)
                    PutCommand.Collect(await client.GetFilesAsync(files, getOptions, reporter, ct).ConfigureAwait(false), completed, failures);
                foreach (var (remote, local) in trees)
                    PutCommand.Collect(await client.GetTreeAsync(remote, local, getOptions, reporter, ct).ConfigureAwait(false), completed, failures);
                return true;
            }).ConfigureAwait(false);
            reporter.Summarize("get", completed, environment.Time.GetElapsedTime(started));
            return await TransferOptions.FinishAsync(parse, address, failures).ConfigureAwait(false);
        }, options.Json));
        return command;
    }
}
