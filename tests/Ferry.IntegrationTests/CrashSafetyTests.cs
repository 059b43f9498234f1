using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Ferry.Client;
using Ferry.Protocol.Errors;
using Ferry.Testing;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests;

/// <summary>
/// Real <c>ferry serve</c> and <c>ferry put/get</c> processes, one of them killed with SIGKILL in the middle of a
/// 256 MiB transfer at 10 %, 50 % and 90 % of the file. Then the server is restarted if it was the one killed, the user
/// runs the command again, and the file must arrive byte-identical (SHA-256) with only the missing part moved, while a
/// watcher polling the destination folder for the whole test never sees the final name hold anything but the complete
/// file. The transfer goes through a <see cref="LoopbackRelay"/> that stops forwarding at the kill point, so the kill
/// lands at that offset every time instead of racing a transfer that takes a fraction of a second.
/// </summary>
[Collection(LargeTransfers.Name)]
public class CrashSafetyTests(CrashSafetyTests.SourceFile source, ITestOutputHelper output) : IClassFixture<CrashSafetyTests.SourceFile>
{
    private const long MiB = 1024 * 1024;
    private const long Size = 256 * MiB;
    private const string Name = "big.bin";

    public enum Victim { Server, Client }
    public enum Direction { Upload, Download }

    public static TheoryData<Victim, Direction, int> KillPoints
    {
        get
        {
            var data = new TheoryData<Victim, Direction, int>();
            foreach (var victim in Enum.GetValues<Victim>())
                foreach (var direction in Enum.GetValues<Direction>())
                    foreach (var percent in new[] { 10, 50, 90 })
                        data.Add(victim, direction, percent);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(KillPoints))]
    public async Task A_process_killed_mid_transfer_never_leaves_a_partial_file_under_the_final_name_and_the_retry_resumes_to_an_identical_file(
        Victim victim, Direction direction, int percent)
    {
        using var sandbox = TempDirectory.InMemory("ferry-crash");
        var root = Directory.CreateDirectory(sandbox.Combine("root")).FullName;
        var local = Directory.CreateDirectory(sandbox.Combine("local")).FullName;
        var state = sandbox.Combine("state");
        var upload = direction == Direction.Upload;
        var destination = upload ? root : local;
        var target = Path.Combine(destination, Name);
        if (!upload)
            File.Copy(source.Path, Path.Combine(root, Name));

        using var watcher = new FinalNameWatcher(destination, Name, source.Path);
        var server = await ServerProcess.StartAsync(root, state);
        try
        {
            var killAt = Size * percent / 100;
            long partial;
            await using (var relay = LoopbackRelay.Start(server.EndPoint,
                upstreamBudget: upload ? killAt : long.MaxValue, downstreamBudget: upload ? long.MaxValue : killAt))
            {
                await using var client = FerryProcess.Start(upload
                    ? ["put", "--plain", "--server", relay.EndPoint.ToString(), "-q", source.Path, Name]
                    : ["get", "--plain", "--server", relay.EndPoint.ToString(), "-q", Name, target]);
                await relay.Held.WaitAsync(TestTimeouts.Default);
                partial = await WaitForPartialToSettleAsync(destination);

                var killed = victim == Victim.Server ? server.Process : client;
                killed.Signal("KILL");
                await killed.WaitForExitAsync();
                Assert.Equal(128 + 9, killed.ExitCode);
                // The kernel closes a dead process's sockets; the relay passes that on to the survivor.
                await relay.DisposeAsync();
                if (victim == Victim.Server)
                {
                    await client.WaitForExitAsync();
                    Assert.NotEqual(0, client.ExitCode);
                    Assert.Contains("ferry", client.Stderr);
                }
            }
            output.WriteLine($"{victim} killed during the {direction.ToString().ToLowerInvariant()} at {percent} % ({killAt / MiB} MiB let through): " +
                $"{partial / MiB} MiB in the partial file");

            Assert.False(File.Exists(target), "a final-name file appeared before the transfer finished");
            Assert.Single(PartFiles(destination));

            if (victim == Victim.Server)
            {
                await server.DisposeAsync();
                server = await ServerProcess.StartAsync(root, state);
            }
            else
            {
                await server.WaitForConnectionsToCloseAsync();
            }
            await AssertLeftoversAreNotMistakenForTheFileAsync(server, upload, local);

            var retry = await FerryProcess.RunAsync(upload
                // No flag: a retried put or get picks up its partial data by itself.
                ? ["put", "--plain", "--server", server.Address, "--json", source.Path, Name]
                : ["get", "--plain", "--server", server.Address, "--json", Name, target]);
            Assert.True(retry.ExitCode == 0, $"exit {retry.ExitCode}: {retry.Stderr}");
            var (offset, bytes) = StartOffsetAndBytes(retry.Stdout);
            Assert.InRange(offset, 1, partial); // resumed from data that was really there, not restarted
            Assert.Equal(Size, bytes);
            output.WriteLine($"the retry resumed at {offset / MiB} MiB and sent {(Size - offset) / MiB} MiB");

            Assert.Equal(source.Sha256, Sha256(target));
            Assert.Empty(PartFiles(destination));
            await watcher.AssertOnlyEverSawTheCompleteFileAsync();
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>
    /// After the crash, before the retry: the server lists no partial upload and no file under the final name, and
    /// refuses to serve one; a partial download is only a hidden part file beside the missing target.
    /// </summary>
    private static async Task AssertLeftoversAreNotMistakenForTheFileAsync(ServerProcess server, bool upload, string local)
    {
        await using var client = await FerryClient.ConnectAsync(new ServerAddress(server.EndPoint.Address.ToString(), server.EndPoint.Port), new FerryClientOptions { UseTls = false }, TestTimeouts.Token());
        var names = (await client.ListAsync("", cancellationToken: TestTimeouts.Token())).Select(e => e.Name).ToList();
        if (upload)
        {
            Assert.Empty(names);
            var missing = await Assert.ThrowsAsync<FerryRemoteException>(() => client.StatAsync(Name, TestTimeouts.Token()));
            Assert.Equal(FerryErrorCode.NotFound, missing.Code);
        }
        else
        {
            Assert.Equal([Name], names);
            Assert.Equal([".ferry-part." + Name], Directory.GetFileSystemEntries(local).Select(Path.GetFileName));
        }
    }

    /// <summary>Waits until the receiver has written everything the relay let through: the part file stops growing.</summary>
    private static async Task<long> WaitForPartialToSettleAsync(string directory)
    {
        var deadline = Stopwatch.StartNew();
        long last = -1;
        var stableSince = Stopwatch.StartNew();
        while (deadline.Elapsed < TestTimeouts.Default)
        {
            var part = PartFiles(directory).SingleOrDefault();
            var length = part is null ? -1 : new FileInfo(part).Length;
            if (length != last)
            {
                last = length;
                stableSince.Restart();
            }
            else if (length > 0 && stableSince.Elapsed > TimeSpan.FromMilliseconds(300))
            {
                return length;
            }
            await Task.Delay(20);
        }
        throw new TimeoutException($"No partial file settled in {directory} (last length {last}).");
    }

    /// <summary>The data part files (not their .meta descriptions) in <paramref name="directory"/>.</summary>
    private static string[] PartFiles(string directory) =>
        Directory.GetFiles(directory, ".ferry-part.*").Where(p => !p.EndsWith(".meta", StringComparison.Ordinal)).ToArray();

    private static (long Offset, long Bytes) StartOffsetAndBytes(string jsonLines)
    {
        var events = jsonLines.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        var start = events.Single(e => e.GetProperty("event").GetString() == "start");
        var done = events.Single(e => e.GetProperty("event").GetString() == "done");
        return (start.TryGetProperty("offset", out var offset) ? offset.GetInt64() : 0, done.GetProperty("bytes").GetInt64());
    }

    internal static string Sha256(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1024 * 1024, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }

    /// <summary>The 256 MiB source, written once for all kill points, with its SHA-256.</summary>
    public sealed class SourceFile : IDisposable
    {
        private readonly TempDirectory _directory = TempDirectory.InMemory("ferry-crash-source");

        public SourceFile()
        {
            Path = TestFiles.Create(_directory.Combine("source.bin"), Size, seed: 21);
            Sha256 = CrashSafetyTests.Sha256(Path);
        }

        public string Path { get; }
        public string Sha256 { get; }

        public void Dispose() => _directory.Dispose();
    }
}
