using System.CommandLine;
using Ferry.Client;
using Ferry.Client.Transfers;
using Ferry.Cli.Rendering;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;

namespace Ferry.Cli.Commands;

/// <summary>The options put and get share, and how a finished transfer is reported.</summary>
internal sealed class TransferOptions
{
    public Option<string> Server { get; } = CommonOptions.Server();
    public Option<bool> Recursive { get; } = new("--recursive", "-r") { Description = "Copy directories and everything in them." };
    public Option<bool> Force { get; } = new("--force", "-f") { Description = "Replace files that already exist at the target." };
    /// <summary>
    /// Deprecated and hidden (not in --help nor in tab completion): resuming is automatic, so this flag never changed
    /// anything. It is still accepted, so that existing scripts keep working, and says so on stderr.
    /// </summary>
    public Option<bool> Resume { get; } = new("--resume") { Description = "Deprecated: resuming is automatic.", Hidden = true };
    public Option<bool> NoResume { get; } = new("--no-resume") { Description = "Start over even if an interrupted transfer left partial data (by default a retry continues from it)." };

    /// <summary>Resuming is automatic on a retry: partial data is checked chunk by chunk, so it is always safe.</summary>
    public bool ResumeOf(ParseResult parse) => !parse.GetValue(NoResume);

    /// <summary>Tells a user of the old --resume flag that it is not needed (before anything else is printed).</summary>
    public async Task NoteDeprecatedAsync(ParseResult parse)
    {
        if (parse.GetValue(Resume))
            await parse.InvocationConfiguration.Error.WriteLineAsync(
                "ferry: --resume is not needed and will be removed: an interrupted transfer continues by itself (--no-resume starts over).").ConfigureAwait(false);
    }
    public Option<string> Checksum { get; } = new Option<string>("--checksum")
    {
        Description = "Whole-file checksum checked before a file is committed.",
        DefaultValueFactory = _ => ChecksumAlgorithm.Xxh3Name,
    }.AcceptOnlyFromAmong(ChecksumAlgorithm.Xxh3Name, ChecksumAlgorithm.Sha256Name);
    public Option<int> Streams { get; } = new("--streams")
    {
        Description = "Move one large file over N connections at once (ranges in parallel, one checksum at the end). Helps on long, fat networks.",
        DefaultValueFactory = _ => 1,
    };
    public Option<string?> BandwidthLimit { get; } = new("--bwlimit")
    {
        Description = "Limit file data to RATE bytes per second: 500K, 10M, 1.5G (no unit: KiB/s; 0: no limit), shared by all --streams.",
    };
    public Option<bool> Quiet { get; } = new("--quiet", "-q") { Description = "Show no progress (errors still go to stderr)." };
    public Option<bool> Json { get; } = new("--json") { Description = "Print newline-delimited JSON events (start, progress, done, error) on stdout." };

    public IEnumerable<Option> All => [Server, Recursive, Force, Resume, NoResume, Checksum, Streams, BandwidthLimit, Quiet, Json];

    /// <summary>The stream count, when parallel streams apply: one plain file, not a tree.</summary>
    public int ParallelStreamsFor(ParseResult parse, int files, int trees) =>
        parse.GetValue(Streams) is var n and > 1 && files == 1 && trees == 0 ? Math.Min(n, 64) : 1;

    /// <summary>Runs one parallel-stream transfer, filing its result or failure like the batch transfers do.</summary>
    public static async Task RunParallelAsync(Func<Task<TransferResult>> transfer, FileTransfer file, List<TransferResult> completed, List<TransferFailure> failures)
    {
        try
        {
            completed.Add(await transfer().ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is FerryException or IOException or UnauthorizedAccessException)
        {
            failures.Add(new TransferFailure(file.LocalPath, file.RemotePath, ex));
        }
    }

    /// <summary>The --bwlimit rate in bytes per second (null: no limit), or the sentence that says why it is not a rate.</summary>
    public bool TryBandwidthLimitOf(ParseResult parse, out long? bytesPerSecond, out string? problem)
    {
        bytesPerSecond = null;
        problem = null;
        if (parse.GetValue(BandwidthLimit) is not { } text)
            return true;
        if (BandwidthRate.TryParse(text, out bytesPerSecond, out var why))
            return true;
        problem = $"--bwlimit: {why}";
        return false;
    }

    public ChecksumAlgorithm ChecksumOf(ParseResult parse) => ChecksumAlgorithm.FromName(parse.GetValue(Checksum));

    public TransferReporter Reporter(ParseResult parse, CliEnvironment environment, int expectedFiles) =>
        TransferReporter.Create(parse.GetValue(Json), parse.GetValue(Quiet), environment, parse.InvocationConfiguration.Output, expectedFiles);

    /// <summary>
    /// Prints one line per failure on stderr and returns the exit code: success, or the code of the first failure
    /// (docs/cli.md).
    /// </summary>
    public static async Task<int> FinishAsync(ParseResult parse, ServerAddress server, IReadOnlyList<TransferFailure> failures)
    {
        var error = parse.InvocationConfiguration.Error;
        foreach (var failure in failures)
        {
            var (_, message) = ExitCodes.Describe(failure.Error, server.ToString());
            var what = Ferry.Protocol.Text.ControlCharacters.Escape(failure.RemotePath.Length > 0 ? failure.RemotePath : failure.LocalPath);
            await error.WriteLineAsync($"ferry: {what}: {message}").ConfigureAwait(false);
        }
        return failures.Count == 0 ? ExitCodes.Success : ExitCodes.Describe(failures[0].Error, server.ToString()).Code;
    }

    /// <summary>A failure found before anything was sent (bad source, usage), in the shape the transfer reports use.</summary>
    public static TransferFailure LocalFailure(string local, string remote, FerryErrorCode code, string message) =>
        new(local, remote, new FerryException(code, message));
}
