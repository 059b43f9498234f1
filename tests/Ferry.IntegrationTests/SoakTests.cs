using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Ferry.Client;
using Ferry.Client.Exec;
using Ferry.Client.Transfers;
using Ferry.Testing;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests;

/// <summary>Tests that load the whole machine: they run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WholeMachine
{
    public const string Name = "Whole machine";
}

/// <summary>
/// Load and soak: 200 clients at once against one <c>ferry serve</c> process for 60 seconds, each doing a random mix
/// of put, get, ls and exec and checking every answer. No operation may fail, and afterwards the server must hold what
/// it held before: the same sockets, no open files under its root, no child processes, no partial files.
/// </summary>
[Collection(WholeMachine.Name)]
public class SoakTests(ITestOutputHelper output)
{
    private const int Clients = 200;
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(double.Parse(Environment.GetEnvironmentVariable("FERRY_SOAK_SECONDS") ?? "60", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Each client reconnects after this many operations, so connection setup and teardown are soaked too.</summary>
    private const int OperationsPerConnection = 25;

    private enum Operation { Put, Get, GetShared, List, Exec }

    [Fact]
    public async Task Two_hundred_clients_for_a_minute_of_mixed_put_get_ls_and_exec_see_no_failure_and_leak_nothing()
    {
        using var sandbox = TempDirectory.InMemory("ferry-soak");
        var root = Directory.CreateDirectory(sandbox.Combine("root")).FullName;
        var local = Directory.CreateDirectory(sandbox.Combine("local")).FullName;
        // Exec is part of the mix: the server runs up to one command per client rather than refusing with exec_limit_reached.
        await using var server = await ServerProcess.StartAsync(root, sandbox.Combine("state"), "--allow-exec", "--max-commands", Clients.ToString(System.Globalization.CultureInfo.InvariantCulture));

        var sources = Enumerable.Range(0, 8).Select(i =>
        {
            var path = Path.Combine(local, $"source{i}.bin");
            File.WriteAllBytes(path, FileProtocolTests.RandomBytes(1024 << (i % 8), 100 + i)); // 1 KiB to 128 KiB
            return path;
        }).ToArray();
        var shared = FileProtocolTests.RandomBytes(512 * 1024, 99);
        await File.WriteAllBytesAsync(Path.Combine(local, "shared.bin"), shared);

        // Warm up with a few clients, so that what the runtime opens once (thread pool, epoll, exec pipes) is in the baseline.
        await using (var setup = await ConnectAsync(server))
            await setup.PutFileAsync(Path.Combine(local, "shared.bin"), "shared.bin", cancellationToken: TestTimeouts.Token());
        await RunClientsAsync(server, 10, TimeSpan.FromSeconds(2), sources, shared, local, new ConcurrentBag<string>(), new ConcurrentDictionary<Operation, int>());
        await server.WaitForConnectionsToCloseAsync();
        var before = Census(server, root);
        output.WriteLine($"before: {before}");
        output.WriteLine("descriptors by kind before: " + string.Join(", ", ProcessCensus.DescriptorKinds(server.Process.Id).Select(k => $"{k.Key} {k.Value}")));

        var failures = new ConcurrentBag<string>();
        var counts = new ConcurrentDictionary<Operation, int>();
        var peakResident = 0L;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peakResident = Math.Max(peakResident, ProcessCensus.ResidentBytes(server.Process.Id));
                try { await Task.Delay(500, sampling.Token); } catch (OperationCanceledException) { }
            }
        });
        var watch = Stopwatch.StartNew();
        await RunClientsAsync(server, Clients, Duration, sources, shared, local, failures, counts);
        var elapsed = watch.Elapsed;
        await sampling.CancelAsync();
        await sampler;

        await server.WaitForConnectionsToCloseAsync();
        await HostTests.WaitUntilAsync(() => ProcessCensus.Descendants(server.Process.Id).Count == 0);
        var after = Census(server, root);
        var total = counts.Values.Sum();
        output.WriteLine($"{Clients} clients, {elapsed.TotalSeconds:0.0} s: {total} operations ({total / elapsed.TotalSeconds:0} per second): " +
            string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Value} {c.Key}")));
        output.WriteLine($"after:  {after}; peak server memory {peakResident / (1024 * 1024)} MiB");
        output.WriteLine("descriptors by kind after: " + string.Join(", ", ProcessCensus.DescriptorKinds(server.Process.Id).Select(k => $"{k.Key} {k.Value}")));

        Assert.True(failures.IsEmpty, $"{failures.Count} failures, first: {string.Join(" | ", failures.Take(5))}");
        Assert.True(total > Clients * 10, $"only {total} operations ran");
        Assert.All(Enum.GetValues<Operation>(), op => Assert.True(counts.GetValueOrDefault(op) > 0, $"no {op} ran"));
        Assert.Equal(before.Sockets, after.Sockets);
        Assert.Equal(before.Pipes, after.Pipes); // each command's stdin, stdout and stderr are closed, not left to a finalizer
        Assert.Empty(after.FilesUnderRoot);
        Assert.Equal(0, after.Children);
        Assert.Equal(0, after.PartFiles);
        Assert.Empty(Directory.GetFiles(local, ".ferry-part*", SearchOption.AllDirectories));
        // Beyond those, the runtime may open a few files of its own (assemblies loaded late).
        Assert.InRange(after.Descriptors, before.Descriptors - 4, before.Descriptors + 4);
    }

    private sealed record ServerCensus(int Descriptors, int Sockets, int Pipes, IReadOnlyList<string> FilesUnderRoot, int Children, int PartFiles, long ResidentBytes)
    {
        public override string ToString() =>
            $"{Descriptors} descriptors, {Sockets} sockets, {Pipes} pipes, {FilesUnderRoot.Count} files open under the root, {Children} child processes, " +
            $"{PartFiles} partial files, {ResidentBytes / (1024 * 1024)} MiB resident";
    }

    private static ServerCensus Census(ServerProcess server, string root)
    {
        var pid = server.Process.Id;
        return new ServerCensus(
            ProcessCensus.OpenDescriptors(pid),
            ProcessCensus.Sockets(pid),
            ProcessCensus.DescriptorKinds(pid).GetValueOrDefault("pipe"),
            ProcessCensus.Files(pid).Where(f => f.StartsWith(root, StringComparison.Ordinal)).ToList(),
            ProcessCensus.Descendants(pid).Count,
            Directory.GetFiles(root, ".ferry-part*", SearchOption.AllDirectories).Length,
            ProcessCensus.ResidentBytes(pid));
    }

    private static Task<FerryClient> ConnectAsync(ServerProcess server) =>
        FerryClient.ConnectAsync(new ServerAddress(server.EndPoint.Address.ToString(), server.EndPoint.Port), new FerryClientOptions { UseTls = false }, TestTimeouts.Token());

    private static async Task RunClientsAsync(ServerProcess server, int clients, TimeSpan duration, string[] sources, byte[] shared, string local,
        ConcurrentBag<string> failures, ConcurrentDictionary<Operation, int> counts)
    {
        using var stop = new CancellationTokenSource(duration);
        await Task.WhenAll(Enumerable.Range(0, clients).Select(n => Task.Run(() => RunClientAsync(server, n, sources, shared, local, failures, counts, stop.Token))));
    }

    /// <summary>One client: connects, runs random operations until told to stop, checks each answer, reconnects now and then.</summary>
    private static async Task RunClientAsync(ServerProcess server, int n, string[] sources, byte[] shared, string local,
        ConcurrentBag<string> failures, ConcurrentDictionary<Operation, int> counts, CancellationToken stop)
    {
        var random = new Random(n);
        var mine = Directory.CreateDirectory(Path.Combine(local, $"c{n}")).FullName;
        var uploaded = new Dictionary<string, string>(); // remote name → its source
        var made = false;
        while (!stop.IsCancellationRequested)
        {
            FerryClient? client = null;
            try
            {
                client = await ConnectAsync(server);
                if (!made)
                {
                    await client.MkdirAsync($"c{n}", parents: true, TestTimeouts.Token());
                    made = true;
                }
                for (var i = 0; i < OperationsPerConnection && !stop.IsCancellationRequested; i++)
                {
                    var roll = random.Next(100);
                    var operation = roll switch
                    {
                        < 30 => Operation.Put,
                        < 50 => uploaded.Count > 0 ? Operation.Get : Operation.Put,
                        < 65 => Operation.GetShared,
                        < 85 => Operation.List,
                        _ => Operation.Exec,
                    };
                    // Each operation has its own deadline, far beyond what it needs: a slow answer under load is not a failure, a wrong one is.
                    using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                    await RunOperationAsync(client, operation, n, random, sources, shared, mine, uploaded, deadline.Token);
                    counts.AddOrUpdate(operation, 1, (_, c) => c + 1);
                }
            }
            catch (Exception ex)
            {
                failures.Add($"client {n}: {ex.GetType().Name}: {ex.Message}");
            }
            finally
            {
                if (client is not null)
                    await client.DisposeAsync();
            }
        }
    }

    private static async Task RunOperationAsync(FerryClient client, Operation operation, int n, Random random, string[] sources, byte[] shared,
        string mine, Dictionary<string, string> uploaded, CancellationToken cancellationToken)
    {
        switch (operation)
        {
            case Operation.Put:
            {
                var source = sources[random.Next(sources.Length)];
                var remote = $"c{n}/f{random.Next(4)}.bin";
                var result = await client.PutFileAsync(source, remote, new PutOptions { Force = true }, cancellationToken: cancellationToken);
                Assert.Equal(new FileInfo(source).Length, result.Bytes);
                uploaded[remote] = source;
                break;
            }
            case Operation.Get:
            {
                var (remote, source) = uploaded.ElementAt(random.Next(uploaded.Count));
                var target = Path.Combine(mine, "got.bin");
                await client.GetFileAsync(remote, target, new GetOptions { Force = true }, cancellationToken: cancellationToken);
                Assert.Equal(await File.ReadAllBytesAsync(source, cancellationToken), await File.ReadAllBytesAsync(target, cancellationToken));
                break;
            }
            case Operation.GetShared:
            {
                var target = Path.Combine(mine, "shared.bin");
                await client.GetFileAsync("shared.bin", target, new GetOptions { Force = true }, cancellationToken: cancellationToken);
                Assert.Equal(shared, await File.ReadAllBytesAsync(target, cancellationToken));
                break;
            }
            case Operation.List:
            {
                var names = (await client.ListAsync($"c{n}", cancellationToken: cancellationToken)).Select(e => e.Name).ToHashSet();
                Assert.All(uploaded.Keys, remote => Assert.Contains(Path.GetFileName(remote), names));
                break;
            }
            case Operation.Exec:
            {
                var stdout = new MemoryStream();
                var result = await client.ExecAsync(ExecRequest.Command("echo", $"client {n}"), null, stdout, Stream.Null, cancellationToken: cancellationToken);
                Assert.Equal(0, result.ExitCode);
                Assert.Equal($"client {n}\n", Encoding.UTF8.GetString(stdout.ToArray()));
                break;
            }
        }
    }
}
