using System.Collections.Concurrent;
using System.Diagnostics;
using Ferry.Client;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Server.Interop;
using Ferry.Testing;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests;

/// <summary>
/// A folder of the root is swapped with a link out of it, again and again, while clients work in it: nothing outside
/// is read, listed, written, created, renamed or removed, and every request succeeds inside or fails with a clear code
/// (docs/security.md, "Symbolic-link races").
/// </summary>
public class SymlinkRaceTests(ITestOutputHelper output)
{
    private const uint RenameExchange = 2; // RENAME_EXCHANGE: both names swap in one step

    /// <summary>The race runs this long at least, and then on until it has shown both states (see <see cref="RaceEnough"/>).</summary>
    private static readonly TimeSpan RaceTime = TimeSpan.FromSeconds(10);

    /// <summary>The race never runs longer than this, however busy the machine.</summary>
    private static readonly TimeSpan RaceTimeLimit = TimeSpan.FromSeconds(90);

    private static readonly FerryErrorCode[] ClearRefusals =
    [
        FerryErrorCode.PathEscapesRoot, FerryErrorCode.NotFound, FerryErrorCode.NotADirectory, FerryErrorCode.AlreadyExists,
        FerryErrorCode.IsADirectory, FerryErrorCode.DirectoryNotEmpty, FerryErrorCode.IoError, FerryErrorCode.TransferInProgress,
    ];

    /// <summary>Names that exist only outside: any request that finds them went outside.</summary>
    private static readonly string[] OutsideOnly = ["victim-rm.txt", "victim-mv.txt", "victim-put.txt"];

    private const string Secret = "outside the root: never to be read, listed, replaced or removed";

    [Fact]
    public async Task A_folder_swapped_with_a_link_out_of_the_root_never_lets_a_request_reach_outside()
    {
        using var outside = new TempDirectory("ferry-race-outside");
        foreach (var name in OutsideOnly.Append("shared.txt"))
            await File.WriteAllTextAsync(outside.Combine(name), Secret + " " + name);
        Directory.CreateDirectory(outside.Combine("sub"));
        await File.WriteAllTextAsync(outside.Combine("sub", "deep.txt"), Secret);
        var before = Snapshot(outside.Path);

        await using var server = await TestServer.StartAsync();
        var folder = Path.Combine(server.Root, "d");
        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        await File.WriteAllTextAsync(Path.Combine(folder, "shared.txt"), "inside");
        Directory.CreateSymbolicLink(Path.Combine(server.Root, "d-swap"), outside.Path);

        using var stop = new CancellationTokenSource(RaceTimeLimit);
        var swaps = 0L;
        var swapError = 0;
        var swapper = new Thread(() =>
        {
            using var root = new SafeFileHandle(Libc.open(server.Root, Libc.OpenPath | Libc.OpenDirectory | Libc.CloseOnExec), ownsHandle: true);
            // "d" is the folder, then the link, then the folder... until the time or the count is up; it ends as the folder.
            while ((!stop.IsCancellationRequested && swaps < 20_000_000) || swaps % 2 != 0)
            {
                if (Libc.renameat2(root, "d", root, "d-swap", RenameExchange) != 0)
                {
                    swapError = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                    return;
                }
                swaps++;
            }
        }) { IsBackground = true, Name = "swapper" };

        var outcomes = new ConcurrentDictionary<string, int>();
        var escapes = new ConcurrentQueue<string>();
        using var local = new TempDirectory("ferry-race-local");
        swapper.Start();
        var workers = Enumerable.Range(0, 2).Select(w => Task.Run(() => WorkAsync(server, local, w, stop.Token, outcomes, escapes))).ToList();
        // A loaded machine runs fewer requests in the time: the race goes on until it has met the folder and the link.
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (!stop.IsCancellationRequested && (started.Elapsed < RaceTime || !RaceEnough(outcomes)))
            await Task.WhenAny(Task.WhenAll(workers), Task.Delay(100));
        await stop.CancelAsync();
        await Task.WhenAll(workers);
        Assert.True(swapper.Join(TimeSpan.FromSeconds(30)), "the swapper did not stop");
        Assert.Equal(0, swapError);

        var summary = string.Join(", ", outcomes.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"));
        var changed = Describe(before, Snapshot(outside.Path));
        output.WriteLine($"{swaps} swaps; {summary}");
        Assert.True(escapes.IsEmpty && changed.Count == 0,
            $"{escapes.Count} requests reached outside ({string.Join("; ", escapes.Take(5))}); outside changed: {string.Join("; ", changed.Take(5))}. {summary}");
        Assert.True(swaps > 1000, $"only {swaps} swaps: no race was tried");
        // The race was real: requests met the link (refused) and the folder (done), many times.
        Assert.True(RaceEnough(outcomes), summary);
        Assert.False(outcomes.Keys.Any(k => k.Contains("unexpected", StringComparison.Ordinal)), summary);
        Assert.Equal("inside", await File.ReadAllTextAsync(Path.Combine(folder, "shared.txt")));
    }

    /// <summary>Requests met the link (refused) and the folder (done), over two hundred requests in all (thousands on an idle machine).</summary>
    private static bool RaceEnough(ConcurrentDictionary<string, int> outcomes) =>
        outcomes.GetValueOrDefault("get:path_escapes_root") > 0 && outcomes.GetValueOrDefault("get:ok") > 0 && outcomes.Values.Sum() > 200;

    private static async Task WorkAsync(TestServer server, TempDirectory local, int worker, CancellationToken stop,
        ConcurrentDictionary<string, int> outcomes, ConcurrentQueue<string> escapes)
    {
        var upload = local.Combine($"up-{worker}.txt");
        await File.WriteAllTextAsync(upload, $"uploaded by worker {worker}", CancellationToken.None);
        await using var client = await server.ConnectAsync();
        var ct = TestTimeouts.Token();
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var name = $"{worker}-{i}";
            await TryAsync("put", () => client.PutFileAsync(upload, $"d/up-{name}.txt", new PutOptions { Force = true }, cancellationToken: ct));
            await TryAsync("put-victim", () => client.PutFileAsync(upload, "d/victim-put.txt", new PutOptions { Force = true }, cancellationToken: ct));
            var download = local.Combine($"get-{name}.txt");
            if (await TryAsync("get", () => client.GetFileAsync("d/shared.txt", download, cancellationToken: ct)))
            {
                var text = await File.ReadAllTextAsync(download, CancellationToken.None);
                if (text != "inside")
                    escapes.Enqueue($"get read '{text}'");
                File.Delete(download);
            }
            IReadOnlyList<RemoteEntry>? listed = null;
            if (await TryAsync("ls", async () => listed = await client.ListAsync("d", cancellationToken: ct)))
            {
                foreach (var entry in listed!.Where(e => OutsideOnly[..2].Contains(e.Name)))
                    escapes.Enqueue($"ls listed '{entry.Name}'");
            }
            await TryAsync("mkdir", () => client.MkdirAsync($"d/sub/m-{name}/n", parents: true, ct));
            await TryAsync("mv", () => client.MoveAsync($"d/up-{name}.txt", $"d/moved-{name}.txt", cancellationToken: ct));
            if (await TryAsync("mv-victim", () => client.MoveAsync("d/victim-mv.txt", $"stolen-{name}.txt", cancellationToken: ct)))
                escapes.Enqueue("mv took victim-mv.txt from outside");
            await TryAsync("rm", () => client.RemoveAsync($"d/moved-{name}.txt", cancellationToken: ct));
            if (await TryAsync("rm-victim", () => client.RemoveAsync("d/victim-rm.txt", cancellationToken: ct)))
                escapes.Enqueue("rm removed victim-rm.txt outside");
            await TryAsync("rm-r", () => client.RemoveAsync($"d/sub/m-{name}", recursive: true, ct));
        }

        async Task<bool> TryAsync(string operation, Func<Task> request)
        {
            try
            {
                await request();
                outcomes.AddOrUpdate($"{operation}:ok", 1, (_, n) => n + 1);
                return true;
            }
            catch (FerryRemoteException ex) when (ClearRefusals.Contains(ex.Code))
            {
                outcomes.AddOrUpdate($"{operation}:{ex.WireCode}", 1, (_, n) => n + 1);
                return false;
            }
            catch (Exception ex) when (ex is FerryException or IOException)
            {
                // Counted and shown with all the others: the assertion below names it.
                outcomes.AddOrUpdate($"{operation}:unexpected {ex.GetType().Name} {(ex as FerryException)?.Code} {ex.Message}", 1, (_, n) => n + 1);
                return false;
            }
        }
    }

    /// <summary>Every file (with its bytes) and folder under <paramref name="folder"/>, by path.</summary>
    private static Dictionary<string, string> Snapshot(string folder) =>
        Directory.EnumerateFileSystemEntries(folder, "*", SearchOption.AllDirectories).ToDictionary(
            path => Path.GetRelativePath(folder, path),
            path => Directory.Exists(path) ? "<folder>" : Convert.ToHexString(File.ReadAllBytes(path)));

    private static List<string> Describe(Dictionary<string, string> before, Dictionary<string, string> after)
    {
        var changes = new List<string>();
        changes.AddRange(before.Keys.Where(k => !after.ContainsKey(k)).Select(k => $"'{k}' removed"));
        changes.AddRange(after.Keys.Where(k => !before.ContainsKey(k)).Select(k => $"'{k}' created"));
        changes.AddRange(before.Keys.Where(k => after.TryGetValue(k, out var v) && v != before[k]).Select(k => $"'{k}' overwritten"));
        return changes;
    }
}
