using Ferry.Testing;

namespace Ferry.IntegrationTests.Nats;

/// <summary>
/// Two three-node clusters for one test class, started side by side: one that requires a user and password, one that
/// requires TLS with certificates from a CA of its own, the clients' too.
/// </summary>
public sealed class NatsSecuredClustersFixture : IAsyncLifetime
{
    public const string User = "ferry-app";

    /// <summary>A password made for this run (never a fixed one in the repository).</summary>
    public string Password { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    public NatsCluster WithPassword { get; private set; } = null!;
    public NatsCluster WithTls { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var password = NatsCluster.StartWithPasswordAsync(User, Password);
        var tls = NatsCluster.StartWithTlsAsync(verifyClients: true);
        try
        {
            WithPassword = await password;
        }
        finally
        {
            WithTls = await tls;
        }
    }

    public async Task DisposeAsync()
    {
        if (WithPassword is not null)
            await WithPassword.DisposeAsync();
        if (WithTls is not null)
            await WithTls.DisposeAsync();
    }
}
