using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Errors;
using Ferry.Server.Auth;
using Ferry.Server.Diagnostics;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// Nothing a watcher of the metrics can see tells an unknown user from a wrong key (docs/security.md, "User
/// enumeration"); the audit log, for the administrator, keeps the difference.
/// </summary>
public class UserEnumerationTests : IDisposable
{
    private readonly TempDirectory _client = new("ferry-enumeration");

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task Unknown_user_and_wrong_key_carry_the_same_metric_label_and_differ_only_in_the_audit_log()
    {
        // Every Ferry server in this process reports here (tests run in parallel), so the check is on the labels used
        // at all, which must come from the fixed set, and on this test's two failures being among them.
        var reasons = new ConcurrentBag<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == FerryMetrics.MeterName && instrument.Name == "ferry.server.auth.failures")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == "reason")
                    reasons.Add((string)tag.Value!);
        });
        listener.Start();

        // Alice exists so that a wrong key and an unknown user are two different failures.
        await using var login = await LoginServer.StartAsync([("alice", null)],
            o => o with { AuthFailureDelay = TimeSpan.Zero, AuditLogPath = Path.Combine(o.StateDirectory, "audit.jsonl") });
        var server = login.Server;

        foreach (var user in new[] { "alice", "mallory" })
        {
            var ex = await Assert.ThrowsAsync<FerryRemoteException>(() => FerryClient.ConnectAsync(server.Address, new FerryClientOptions
            {
                UseTls = false,
                Credentials = new ClientCredentials(user, Handshake.NewKey()),
                TrustStore = new KnownServers(_client.Combine("known_servers")),
            }, TestTimeouts.Token()));
            Assert.Equal(FerryErrorCode.AuthenticationFailed, ex.Code);
        }

        listener.RecordObservableInstruments();
        Assert.All(reasons, r => Assert.Contains(r, new[] { "rejected", "throttled", "too_many_connections" }));
        Assert.True(reasons.Count(r => r == "rejected") >= 2, string.Join(",", reasons));

        var audit = await File.ReadAllTextAsync(server.Options.AuditLogPath!);
        Assert.Contains("wrong key", audit);
        Assert.Contains("unknown user", audit);
    }
}
