using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// A client that holds credentials talks only to a server that proves it knows them (docs/security.md, "Server
/// authentication (downgrade)"): an impostor that skips the login or fails the proof gets no file byte and no pin.
/// </summary>
public class ServerAuthenticationDowngradeTests : IDisposable
{
    private static readonly byte[] s_key = Handshake.NewKey();
    private readonly TempDirectory _config = new("ferry-downgrade-client");

    public void Dispose() => _config.Dispose();

    private KnownServers Known => new(_config.Combine("known_servers"));

    private FerryClientOptions Login(bool tls) => new() { UseTls = tls, Credentials = new ClientCredentials("alice", s_key), TrustStore = Known };

    /// <summary>Answers hello like a server in --insecure-no-auth mode, and accepts any upload.</summary>
    private static Task NoAuthImpostor(FrameHeader header, FrameReader reader, FrameWriter writer, CancellationToken ct)
    {
        if (header.Command == CommandNames.Hello)
            writer.WriteHeader(new HelloMessage { Version = ProtocolVersion.Current, Features = ["echo", "put", "get", "ls"] }, FerryJsonContext.Default.HelloMessage);
        else if (header.Command == CommandNames.Put)
            writer.WriteHeader(new PutReadyMessage { Id = header.Deserialize(FerryJsonContext.Default.PutMessage).Id ?? 0, ChunkSize = 4 * 1024 * 1024 }, FerryJsonContext.Default.PutReadyMessage);
        return Task.CompletedTask;
    }

    /// <summary>Asks for a login, accepts any, and answers with a proof it cannot compute (it does not know the key).</summary>
    private static Task GuessingImpostor(FrameHeader header, FrameReader reader, FrameWriter writer, CancellationToken ct)
    {
        if (header.Command == CommandNames.Hello)
            writer.WriteHeader(new HelloMessage { Version = ProtocolVersion.Current, Auth = Handshake.Method, Challenge = Handshake.NewChallenge() },
                FerryJsonContext.Default.HelloMessage);
        else if (header.Command == CommandNames.Auth)
            writer.WriteHeader(new AuthOkMessage { Proof = Handshake.NewKey(), FrameMac = false }, FerryJsonContext.Default.AuthOkMessage);
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_client_with_credentials_refuses_a_server_whose_hello_skips_the_login(bool tls)
    {
        await using var impostor = FakeServer.Start(NoAuthImpostor, tls);
        var ex = await Assert.ThrowsAsync<FerryException>(() => FerryClient.ConnectAsync(impostor.Address, Login(tls), TestTimeouts.Token()));
        Assert.Equal(FerryErrorCode.ServerNotAuthenticated, ex.Code);
        await impostor.Finished.WaitAsync(TestTimeouts.Default);
        Assert.Equal([CommandNames.Hello], impostor.Commands);
        Assert.Null(Known.Find(impostor.Address.ToString())); // an unproven certificate is not remembered
    }

    [Fact]
    public async Task Ferry_put_with_credentials_sends_no_file_byte_to_a_server_that_skips_the_login()
    {
        await using var impostor = FakeServer.Start(NoAuthImpostor);
        using var work = new TempDirectory("ferry-downgrade-put");
        File.WriteAllText(work.Combine("secret.txt"), "the quarterly numbers");
        var env = new Dictionary<string, string>
        {
            ["FERRY_CONFIG_DIR"] = work.Combine("config"),
            ["FERRY_USER"] = "alice",
            ["FERRY_KEY"] = Convert.ToBase64String(s_key),
        };
        await using var ferry = FerryProcess.Start(["put", "--plain", "--server", impostor.Address.ToString(), "secret.txt"], work.Path, env);
        await ferry.WaitForExitAsync();

        Assert.Equal(Ferry.Cli.ExitCodes.Authentication, ferry.ExitCode);
        Assert.Contains("server_not_authenticated", ferry.Stderr);
        await impostor.Finished.WaitAsync(TestTimeouts.Default);
        Assert.Equal([CommandNames.Hello], impostor.Commands);
        Assert.Equal(0, impostor.BodyBytes);
    }

    [Fact]
    public async Task A_tls_server_that_fails_the_proof_is_refused_and_its_certificate_is_not_pinned()
    {
        await using var impostor = FakeServer.Start(GuessingImpostor, tls: true);
        string? announced = null;
        var ex = await Assert.ThrowsAsync<FerryException>(() =>
            FerryClient.ConnectAsync(impostor.Address, Login(tls: true) with { OnFirstUse = (_, f) => announced = f }, TestTimeouts.Token()));
        Assert.Equal(FerryErrorCode.ServerNotAuthenticated, ex.Code);
        await impostor.Finished.WaitAsync(TestTimeouts.Default);
        Assert.Equal([CommandNames.Hello, CommandNames.Auth], impostor.Commands);
        Assert.Null(Known.Find(impostor.Address.ToString()));
        Assert.Null(announced);
    }

    [Fact]
    public async Task A_client_without_credentials_is_shown_the_fingerprint_of_a_server_that_wants_a_login_but_pins_nothing()
    {
        await using var server = await StartRealServerAsync(tls: true);
        var ex = await Assert.ThrowsAsync<FerryException>(() =>
            FerryClient.ConnectAsync(server.Address, new FerryClientOptions { TrustStore = Known }, TestTimeouts.Token()));
        Assert.Equal(FerryErrorCode.AuthenticationRequired, ex.Code);
        Assert.Contains(server.Server.CertificateFingerprint!, ex.Message);
        Assert.Null(Known.Find(server.Address.ToString()));
    }

    private static Task<TestServer> StartRealServerAsync(bool tls) => TestServer.StartAsync(o =>
    {
        var options = o with { RequireAuthentication = true, UseTls = tls };
        Directory.CreateDirectory(options.StateDirectory);
        UsersFile.Save(options.EffectiveUsersFile, [new UserAccount { Name = "alice", Key = s_key }]);
        return options;
    });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_real_server_proves_itself_is_pinned_on_first_use_and_takes_the_upload(bool tls)
    {
        await using var server = await StartRealServerAsync(tls);
        using var local = new TempDirectory("ferry-downgrade-real");
        File.WriteAllText(local.Combine("a.txt"), "for the real server");

        await using (var client = await FerryClient.ConnectAsync(server.Address, Login(tls), TestTimeouts.Token()))
        {
            Assert.Equal("alice", client.User);
            await client.PutFileAsync(local.Combine("a.txt"), "a.txt", cancellationToken: TestTimeouts.Token());
        }
        Assert.Equal(tls ? server.Server.CertificateFingerprint : null, Known.Find(server.Address.ToString()));
        var landed = Directory.GetFiles(server.Root, "a.txt", SearchOption.AllDirectories);
        Assert.Equal("for the real server", File.ReadAllText(Assert.Single(landed)));
    }
}
