using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Ferry.Server.Logging;
using Ferry.Server.Storage.Nats;
using Ferry.Testing;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Ferry.IntegrationTests.Nats;

/// <summary>
/// The audit stream: a real <c>ferry serve --audit-stream</c> publishes its logins and commands into a JetStream stream
/// read back here with NATS.Net; and a publisher that cannot publish drops and counts without ever holding up a caller.
/// </summary>
public sealed class NatsAuditStreamTests(NatsClusterFixture nats) : IClassFixture<NatsClusterFixture>
{
    [Fact]
    public async Task Logins_and_commands_with_their_outcomes_reach_the_stream()
    {
        using var work = new TempDirectory("ferry-nats-audit");
        var url = nats.Cluster.Url;
        var keyFile = work.Combine("ana.key");
        var added = await FerryProcess.RunAsync("user", "add", "audra", "--key-file", keyFile, "--store", url);
        Assert.True(added.ExitCode == 0, added.Stderr);

        await using var server = FerryProcess.Start(["serve", "--store", url, "--audit-stream", "ferry-audit", "--audit-stream-max-age", "7",
            "--plain", "--listen", "127.0.0.1:0", "--root", work.Combine("root"), "--state-dir", work.Combine("state")]);
        var address = await server.WaitForListeningAsync();
        var client = new Dictionary<string, string>
        {
            ["FERRY_CONFIG_DIR"] = work.Combine("client"),
            ["FERRY_USER"] = "audra",
            ["FERRY_KEY"] = File.ReadAllText(keyFile).Trim(),
        };
        Assert.Equal(0, (await RunAsync(client, "mkdir", "--plain", "--server", address, "reports")).ExitCode);
        Assert.NotEqual(0, (await RunAsync(client, "get", "--plain", "--server", address, "missing.txt", work.Combine("missing.txt"))).ExitCode);
        var impostor = new Dictionary<string, string>(client) { ["FERRY_KEY"] = Convert.ToBase64String(new byte[32]) };
        Assert.NotEqual(0, (await RunAsync(impostor, "ls", "--plain", "--server", address)).ExitCode);

        await using var connection = new NatsConnection(Patient(url));
        var js = new NatsJSContext(connection);
        var stream = await js.GetStreamAsync("ferry-audit", cancellationToken: TestTimeouts.Token());
        Assert.Equal(["ferry-audit.>"], stream.Info.Config.Subjects);
        Assert.Equal(3, stream.Info.Config.NumReplicas);
        Assert.Equal(TimeSpan.FromDays(7), stream.Info.Config.MaxAge);

        List<(string Subject, JsonElement Record)> records = [];
        try
        {
            await Eventually.UntilAsync(() =>
            {
                records = ReadAllAsync(js, "ferry-audit").GetAwaiter().GetResult();
                return records.Count(r => Is(r.Record, "event", "login")) >= 3 && records.Any(r => Is(r.Record, "command", "stat"));
            }, "the logins and commands to reach the audit stream");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} Read: {string.Join("\n", records.Select(r => r.Subject + " " + r.Record))}\nServer: {server.Stderr}\n{server.Stdout}", ex);
        }

        Assert.All(records, r => Assert.StartsWith("ferry-audit.", r.Subject, StringComparison.Ordinal));
        Assert.Contains(records, r => Is(r.Record, "event", "login") && Is(r.Record, "user", "audra") && Is(r.Record, "outcome", "ok"));
        Assert.Contains(records, r => Is(r.Record, "event", "login") && Is(r.Record, "outcome", "failed") && Is(r.Record, "reason", "wrong key"));
        Assert.Contains(records, r => Is(r.Record, "command", "mkdir") && Is(r.Record, "outcome", "ok") && Is(r.Record, "user", "audra"));
        Assert.Contains(records, r => Is(r.Record, "command", "stat") && Is(r.Record, "outcome", "not_found")); // 'ferry get' looks first
        Assert.All(records, r => Assert.True(r.Record.TryGetProperty("time", out _)));
    }

    [Fact]
    public async Task Records_the_cluster_does_not_take_are_dropped_counted_and_warned_about_once()
    {
        // No stream listens on this subject: every publish is refused at once ("no responders").
        await using var connection = new NatsConnection(Patient(nats.Cluster.Url));
        var logs = new InMemoryLoggerProvider();
        var publisher = new NatsAuditPublisher(new NatsJSContext(connection), "nostream" + NatsKeys.NewId()[..8], logs.CreateLogger("Ferry.Audit"));
        for (var i = 0; i < 25; i++)
            publisher.Write($$"""{"event":"login","n":{{i}}}""");
        await Eventually.UntilAsync(() => publisher.Dropped == 25, "all 25 records to be dropped");
        List<InMemoryLoggerProvider.LogLine> Warnings() => logs.Lines.Where(l => l.EventId.Id == LogEvents.NatsAuditRecordsDropped).ToList();
        var first = Assert.Single(Warnings()); // at most one a minute
        Assert.Equal(LogLevel.Warning, first.Level);
        Assert.StartsWith("1 audit record(s) not published to the stream nostream", first.Message, StringComparison.Ordinal);
        await publisher.DisposeAsync();
        Assert.Equal(0, publisher.Published);
        // The ones the rate limit held back are told at stop.
        Assert.Equal(2, Warnings().Count);
        Assert.StartsWith("24 audit record(s)", Warnings()[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cluster_that_does_not_answer_costs_records_not_time()
    {
        // A socket that accepts connections and never says a word: NATS.Net waits for its INFO and the publish for its ack.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        await using var connection = new NatsConnection(new NatsOpts { Url = $"nats://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}" });
        var logs = new InMemoryLoggerProvider();
        var publisher = new NatsAuditPublisher(new NatsJSContext(connection), "audit", logs.CreateLogger("Ferry.Audit"), capacity: 4);
        for (var i = 0; i < 100; i++)
            publisher.Write($$"""{"event":"command","n":{{i}}}""");
        // Four wait in the queue and one may be on its way: the rest were dropped on the spot, not waited for.
        Assert.True(publisher.Dropped >= 95, $"dropped {publisher.Dropped}");
        Assert.Contains(logs.Lines, l => l.EventId.Id == LogEvents.NatsAuditRecordsDropped && l.Message.Contains("queue", StringComparison.Ordinal));
        await publisher.DisposeAsync();
        Assert.Equal(100, publisher.Dropped + publisher.Published);
    }

    /// <summary>Options for the test's own connection: on a loaded machine NATS.Net's 2 s connect timeout is too short.</summary>
    private static NatsOpts Patient(string url) => new() { Url = url, ConnectTimeout = TimeSpan.FromSeconds(15), RequestTimeout = TimeSpan.FromSeconds(15) };

    private static bool Is(JsonElement record, string property, string value) =>
        record.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() == value;

    private static async Task<List<(string Subject, JsonElement Record)>> ReadAllAsync(NatsJSContext js, string stream)
    {
        var info = await js.GetStreamAsync(stream, cancellationToken: TestTimeouts.Token());
        var count = (int)info.Info.State.Messages;
        var found = new List<(string, JsonElement)>();
        if (count == 0)
            return found;
        var consumer = await js.CreateOrderedConsumerAsync(stream, cancellationToken: TestTimeouts.Token());
        await foreach (var message in consumer.FetchAsync<byte[]>(new NatsJSFetchOpts { MaxMsgs = count, Expires = TimeSpan.FromSeconds(5) },
            cancellationToken: TestTimeouts.Token()))
        {
            found.Add((message.Subject, JsonDocument.Parse(message.Data!).RootElement.Clone()));
            if (found.Count == count)
                break;
        }
        return found;
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(Dictionary<string, string> environment, params string[] args)
    {
        await using var p = FerryProcess.Start(args, environment: environment);
        await p.WaitForExitAsync();
        return (p.ExitCode, p.Stdout, p.Stderr);
    }
}
