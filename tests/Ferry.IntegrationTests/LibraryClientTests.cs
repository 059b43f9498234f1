using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Errors;
using Ferry.Server.Auth;
using Ferry.Testing;
using Microsoft.Extensions.Logging;

namespace Ferry.IntegrationTests;

/// <summary>
/// The client as a library uses it (docs/library.md): pins in memory unless told otherwise, its own result types, its
/// log lines through the given logger factory.
/// </summary>
public class LibraryClientTests
{
    private static readonly byte[] s_key = Handshake.NewKey();

    private static Task<TestServer> StartTlsWithLoginAsync() => TestServer.StartAsync(o =>
    {
        var options = o with { RequireAuthentication = true, UseTls = true };
        Directory.CreateDirectory(options.StateDirectory);
        UsersFile.Save(options.EffectiveUsersFile, [new UserAccount { Name = "alice", Key = s_key }]);
        return options;
    });

    [Fact]
    public async Task By_default_a_first_use_pin_is_kept_in_memory_and_nothing_is_written_to_the_config_folder()
    {
        await using var server = await StartTlsWithLoginAsync();
        var knownServersFile = Path.Combine(ClientConfig.Directory, "known_servers");
        var before = File.Exists(knownServersFile) ? File.ReadAllText(knownServersFile) : null;
        var options = new FerryClientOptions { Credentials = new ClientCredentials("alice", s_key) };

        await using (var client = await FerryClient.ConnectAsync(server.Address, options, TestTimeouts.Token()))
        {
            var store = Assert.IsType<InMemoryServerTrustStore>(options.TrustStore);
            Assert.Equal(client.ServerFingerprint, store.Find(server.Address.ToString()));
            Assert.Equal(client.ServerFingerprint, Assert.Single(store.Pins).Value);
        }
        Assert.Equal(before, File.Exists(knownServersFile) ? File.ReadAllText(knownServersFile) : null);
    }

    [Fact]
    public async Task An_explicit_pin_is_required_when_trust_on_first_use_is_off()
    {
        await using var server = await StartTlsWithLoginAsync();
        var credentials = new ClientCredentials("alice", s_key);

        var unknown = await Assert.ThrowsAsync<FerryException>(() => FerryClient.ConnectAsync(server.Address,
            new FerryClientOptions { Credentials = credentials, TrustOnFirstUse = false }, TestTimeouts.Token()));
        Assert.Equal(FerryErrorCode.CertificateMismatch, unknown.Code);
        Assert.False(unknown.IsTransient);

        var wrong = new InMemoryServerTrustStore([new(server.Address.ToString(), "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]);
        var mismatch = await Assert.ThrowsAsync<FerryException>(() => FerryClient.ConnectAsync(server.Address,
            new FerryClientOptions { Credentials = credentials, TrustOnFirstUse = false, TrustStore = wrong }, TestTimeouts.Token()));
        Assert.Equal(FerryErrorCode.CertificateMismatch, mismatch.Code);

        // The fingerprint learnt by a first connection, given explicitly, is accepted.
        var learnt = new InMemoryServerTrustStore();
        await using (await FerryClient.ConnectAsync(server.Address, new FerryClientOptions { Credentials = credentials, TrustStore = learnt }, TestTimeouts.Token()))
        {
        }
        var pinned = new InMemoryServerTrustStore(learnt.Pins);
        await using var client = await FerryClient.ConnectAsync(server.Address,
            new FerryClientOptions { Credentials = credentials, TrustOnFirstUse = false, TrustStore = pinned }, TestTimeouts.Token());
        Assert.Equal("alice", client.User);
    }

    [Fact]
    public void A_trust_store_refuses_empty_servers_and_fingerprints()
    {
        var store = new InMemoryServerTrustStore();
        Assert.Throws<ArgumentException>(() => store.Pin("", "SHA256:x"));
        Assert.Throws<ArgumentException>(() => store.Pin("host:1", " "));
        Assert.ThrowsAny<ArgumentException>(() => new InMemoryServerTrustStore(null!));
        Assert.Null(store.Find("host:1"));
    }

    [Fact]
    public async Task The_client_logs_its_connection_and_first_use_pin_with_listed_ids()
    {
        await using var server = await StartTlsWithLoginAsync();
        using var logs = new InMemoryLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        await using var client = await FerryClient.ConnectAsync(server.Address,
            new FerryClientOptions { Credentials = new ClientCredentials("alice", s_key), LoggerFactory = factory }, TestTimeouts.Token());

        var lines = logs.Lines.ToList();
        Assert.Contains(lines, l => l.EventId.Id == ClientLogEvents.Connected && l.Message.Contains("alice", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.EventId.Id == ClientLogEvents.PinnedOnFirstUse && l.Level == LogLevel.Warning
            && l.Message.Contains(client.ServerFingerprint!, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Listings_and_stats_come_as_the_clients_own_entries()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await FerryClient.ConnectAsync(server.Address, new FerryClientOptions { UseTls = false }, TestTimeouts.Token());
        var ct = TestTimeouts.Token();
        await client.MkdirAsync("d/e", parents: true, ct);
        var before = DateTimeOffset.UtcNow.AddMinutes(-1);
        await File.WriteAllBytesAsync(Path.Combine(server.Options.Root, "d", "f.bin"), new byte[1234], ct);

        var listed = await client.ListAsync("d", cancellationToken: ct);
        Assert.Equal(["e", "f.bin"], listed.Select(e => e.Name));
        Assert.Equal(RemoteEntryKind.Directory, listed[0].Kind);
        var file = listed[1];
        Assert.Equal((RemoteEntryKind.File, 1234L), (file.Kind, file.Size));
        Assert.InRange(file.Modified, before, DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Equal(file, await client.StatAsync("d/f.bin", ct));
        Assert.Equal(FerryErrorCode.NotFound, (await Assert.ThrowsAsync<FerryRemoteException>(() => client.StatAsync("d/none", ct))).Code);
        Assert.False(client.IsBroken);
    }

    [Fact]
    public async Task A_batch_reports_each_file_through_IProgress_and_each_completes_once()
    {
        await using var server = await TestServer.StartAsync();
        using var local = new TempDirectory("ferry-progress");
        TestFiles.Create(local.Combine("small.bin"), 1000, seed: 1);
        TestFiles.Create(local.Combine("large.bin"), 3 * 1024 * 1024, seed: 2);
        await using var client = await server.ConnectAsync();
        var reports = new System.Collections.Concurrent.ConcurrentQueue<Ferry.Client.Transfers.TransferProgress>();
        var result = await client.PutTreeAsync(local.Path, "t",
            observer: Ferry.Client.Transfers.TransferObserver.FromProgress(new Reporter(reports.Enqueue)), cancellationToken: TestTimeouts.Token());
        Assert.Empty(result.Failed);
        var completed = reports.Where(r => r.Completed).OrderBy(r => r.Size).ToList();
        Assert.Equal([("small.bin", 1000L), ("large.bin", 3L * 1024 * 1024)],
            completed.Select(r => (Path.GetFileName(r.File.LocalPath), r.BytesDone)));
        Assert.All(reports, r => Assert.InRange(r.BytesDone, 0, r.Size));
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to a synchronization context).</summary>
    private sealed class Reporter(Action<Ferry.Client.Transfers.TransferProgress> report) : IProgress<Ferry.Client.Transfers.TransferProgress>
    {
        public void Report(Ferry.Client.Transfers.TransferProgress value) => report(value);
    }
}
