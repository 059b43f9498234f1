using Ferry.Testing;

namespace Ferry.IntegrationTests.Nats;

/// <summary>
/// Three three-node clusters for one test class, started side by side: one that requires a user and password, one that
/// requires TLS with certificates from a CA of its own, the clients' too, and one in operator mode whose clients log in
/// with creds files (<see cref="Trust"/>).
/// </summary>
public sealed class NatsSecuredClustersFixture : IAsyncLifetime
{
    public const string User = "ferry-app";

    /// <summary>A password made for this run (never a fixed one in the repository).</summary>
    public string Password { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    public NatsCluster WithPassword { get; private set; } = null!;
    public NatsCluster WithTls { get; private set; } = null!;
    public NatsCluster InOperatorMode { get; private set; } = null!;

    /// <summary>The operator and accounts <see cref="InOperatorMode"/> trusts, made for this run.</summary>
    public NatsOperatorTrust Trust { get; } = new();

    public async Task InitializeAsync()
    {
        var password = NatsCluster.StartWithPasswordAsync(User, Password);
        var tls = NatsCluster.StartWithTlsAsync(verifyClients: true);
        var operatorMode = NatsCluster.StartInOperatorModeAsync(Trust);
        try
        {
            WithPassword = await password;
        }
        finally
        {
            try
            {
                WithTls = await tls;
            }
            finally
            {
                InOperatorMode = await operatorMode;
            }
        }
    }

    public async Task DisposeAsync()
    {
        if (WithPassword is not null)
            await WithPassword.DisposeAsync();
        if (WithTls is not null)
            await WithTls.DisposeAsync();
        if (InOperatorMode is not null)
            await InOperatorMode.DisposeAsync();
    }
}
