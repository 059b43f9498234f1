using Ferry.Client;
using Ferry.Client.Transfers;
using Ferry.Protocol.Errors;
using Ferry.Testing;

namespace Ferry.IntegrationTests.Nats;

/// <summary>A user's quota on the NATS store holds across servers: uploads through either count, and racing ones never overrun it.</summary>
public sealed class NatsQuotaTests(NatsClusterFixture nats) : IClassFixture<NatsClusterFixture>
{
    private const long Quota = 1_000_000;

    private static CancellationToken Token => TestTimeouts.Token();

    [Fact]
    public async Task Uploads_through_both_servers_count_against_one_quota()
    {
        await using var pair = await NatsServerPair.StartAsync(nats.Cluster, Quota);
        using var local = new TempDirectory();
        var six = TestFiles.Create(local.Combine("six.bin"), 600_000, seed: 6);
        var nine = TestFiles.Create(local.Combine("nine.bin"), 900_000, seed: 9);
        await using var a = await pair.LoginAsync(pair.A);
        await using var b = await pair.LoginAsync(pair.B);

        await a.PutFileAsync(six, "one.bin", cancellationToken: Token);
        var refused = await Assert.ThrowsAsync<FerryRemoteException>(() => b.PutFileAsync(six, "two.bin", cancellationToken: Token));
        Assert.Equal(FerryErrorCode.QuotaExceeded, refused.Code);
        Assert.DoesNotContain(await b.ListAsync("", cancellationToken: Token), e => e.Name == "two.bin");

        // Replacing counts only the difference: 900,000 in place of 600,000 fits.
        await b.PutFileAsync(nine, "one.bin", new PutOptions { Force = true }, cancellationToken: Token);
        refused = await Assert.ThrowsAsync<FerryRemoteException>(() => a.PutFileAsync(six, "two.bin", cancellationToken: Token));
        Assert.Equal(FerryErrorCode.QuotaExceeded, refused.Code);

        // Removing through one server makes room for the other.
        await a.RemoveAsync("one.bin", cancellationToken: Token);
        await Eventually.UntilAsync(() => TryPut(b, six, "two.bin"), "the room freed through A to be usable through B");
    }

    [Fact]
    public async Task Uploads_racing_through_both_servers_never_exceed_the_quota()
    {
        await using var pair = await NatsServerPair.StartAsync(nats.Cluster, Quota);
        using var local = new TempDirectory();
        var file = TestFiles.Create(local.Combine("f.bin"), 400_000, seed: 4);
        var clients = new List<FerryClient>();
        try
        {
            for (var i = 0; i < 6; i++)
                clients.Add(await pair.LoginAsync(i % 2 == 0 ? pair.A : pair.B));
            var outcomes = await Task.WhenAll(clients.Select(async (client, i) =>
            {
                try
                {
                    await client.PutFileAsync(file, $"r{i}.bin", cancellationToken: Token);
                    return (FerryErrorCode?)null;
                }
                catch (FerryRemoteException ex)
                {
                    return ex.Code;
                }
            }));

            Assert.All(outcomes.OfType<FerryErrorCode>(), code => Assert.Equal(FerryErrorCode.QuotaExceeded, code));
            var stored = (await clients[0].ListAsync("", cancellationToken: Token)).Sum(e => e.Size);
            Assert.InRange(stored, 400_000, Quota); // the first in order always fits; together never more than the quota
            Assert.Equal(outcomes.Count(o => o is null) * 400_000L, stored);
        }
        finally
        {
            foreach (var client in clients)
                await client.DisposeAsync();
        }
    }

    private static bool TryPut(FerryClient client, string local, string remote)
    {
        try
        {
            client.PutFileAsync(local, remote, cancellationToken: Token).GetAwaiter().GetResult();
            return true;
        }
        catch (FerryRemoteException ex) when (ex.Code == FerryErrorCode.QuotaExceeded)
        {
            return false;
        }
    }
}
