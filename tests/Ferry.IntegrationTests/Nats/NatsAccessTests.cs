using System.Diagnostics;
using Ferry.Testing;

namespace Ferry.IntegrationTests.Nats;

/// <summary>
/// The real <c>ferry</c> on clusters that require a user and password, TLS, or creds files (operator mode): the right credentials and CA work end to
/// end, wrong ones are refused at once with the store named (never a hang), and settings that cannot work are usage
/// errors that never show a secret.
/// </summary>
public sealed class NatsAccessTests(NatsSecuredClustersFixture clusters) : IClassFixture<NatsSecuredClustersFixture>
{
    /// <summary>A refusal comes back within this; NATS.Net's connect timeout is 2 s per address.</summary>
    private static readonly TimeSpan s_refusedWithin = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task With_the_right_password_users_added_from_outside_log_in_and_move_files_through_a_server()
    {
        using var work = new TempDirectory("ferry-nats-password");
        var url = clusters.WithPassword.Url;
        var passwordFile = work.Combine("nats-password");
        await File.WriteAllTextAsync(passwordFile, clusters.Password + "\n"); // as an editor or echo writes it
        string[] access = ["--store", url, "--nats-user", NatsSecuredClustersFixture.User, "--nats-password-file", passwordFile];

        var keyFile = work.Combine("ana.key");
        var added = await FerryProcess.RunAsync(["user", "add", "ana", "--key-file", keyFile, .. access]);
        Assert.True(added.ExitCode == 0, added.Stderr);
        Assert.DoesNotContain(clusters.Password, added.Stdout + added.Stderr, StringComparison.Ordinal);

        await using var server = FerryProcess.Start(["serve", .. access, "--plain", "--listen", "127.0.0.1:0", "--root", work.Combine("root"),
            "--state-dir", work.Combine("state"), "--log-level", "Debug"]);
        var address = await server.WaitForListeningAsync();
        var client = new Dictionary<string, string>
        {
            ["FERRY_CONFIG_DIR"] = work.Combine("client"),
            ["FERRY_USER"] = "ana",
            ["FERRY_KEY"] = File.ReadAllText(keyFile).Trim(),
        };
        var source = TestFiles.Create(work.Combine("data.bin"), 300_000, seed: 5);
        var put = await RunAsync(client, "put", "--plain", "--server", address, source, "data.bin");
        Assert.True(put.ExitCode == 0, put.Stderr);
        var get = await RunAsync(client, "get", "--plain", "--server", address, "data.bin", work.Combine("back.bin"));
        Assert.True(get.ExitCode == 0, get.Stderr);
        TestFiles.AssertSame(source, work.Combine("back.bin"));
        Assert.Contains($"as user {NatsSecuredClustersFixture.User}, no TLS", server.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(clusters.Password, server.Stdout + server.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_password_or_none_is_refused_at_once_naming_the_store_and_showing_no_password()
    {
        using var work = new TempDirectory("ferry-nats-password");
        var url = clusters.WithPassword.Url;
        var wrongFile = work.Combine("wrong");
        var wrong = "not-" + clusters.Password;
        await File.WriteAllTextAsync(wrongFile, wrong);

        var clock = Stopwatch.StartNew();
        var list = await FerryProcess.RunAsync("user", "list", "--store", url, "--nats-user", NatsSecuredClustersFixture.User, "--nats-password-file", wrongFile);
        Assert.True(clock.Elapsed < s_refusedWithin, $"took {clock.Elapsed}");
        Assert.NotEqual(0, list.ExitCode);
        Assert.Contains(url["nats://".Length..].Split(',')[0], list.Stderr, StringComparison.Ordinal);
        Assert.Contains("authorization", list.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(wrong, list.Stdout + list.Stderr, StringComparison.Ordinal);

        clock.Restart();
        var serve = await FerryProcess.RunAsync("serve", "--store", url, "--nats-user", NatsSecuredClustersFixture.User, "--nats-password-file", wrongFile,
            "--plain", "--listen", "127.0.0.1:0", "--root", work.Combine("root"), "--state-dir", work.Combine("state"));
        Assert.True(clock.Elapsed < s_refusedWithin, $"took {clock.Elapsed}");
        Assert.Equal(3, serve.ExitCode); // unreachable: the settings were well formed, the cluster said no
        Assert.Contains("store:", serve.Stderr, StringComparison.Ordinal);
        Assert.Contains("authorization", serve.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(wrong, serve.Stdout + serve.Stderr, StringComparison.Ordinal);

        var anonymous = await FerryProcess.RunAsync("user", "list", "--store", url);
        Assert.NotEqual(0, anonymous.ExitCode);
        Assert.Contains("authorization", anonymous.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Tls_with_the_clusters_ca_and_a_client_certificate_works_and_another_ca_or_no_certificate_is_refused()
    {
        using var work = new TempDirectory("ferry-nats-tls");
        var cluster = clusters.WithTls;
        var certificates = cluster.Certificates!;
        string[] client = ["--nats-tls-cert", certificates.ClientCertFile, "--nats-tls-key", certificates.ClientKeyFile];

        var added = await FerryProcess.RunAsync(["user", "add", "tess", "--store", cluster.Url, "--nats-tls-ca", certificates.CaFile, .. client]);
        Assert.True(added.ExitCode == 0, added.Stderr);
        // A CA alone turns TLS on, also for a nats:// address.
        var plainScheme = "nats://" + cluster.Url["tls://".Length..];
        var list = await FerryProcess.RunAsync(["user", "list", "--json", "--store", plainScheme, "--nats-tls-ca", certificates.CaFile, .. client]);
        Assert.True(list.ExitCode == 0, list.Stderr);
        Assert.Contains("\"tess\"", list.Stdout, StringComparison.Ordinal);

        var other = NatsTestCertificates.Create(work.Combine("other"), "someone-else");
        var clock = Stopwatch.StartNew();
        var wrongCa = await FerryProcess.RunAsync(["user", "list", "--store", cluster.Url, "--nats-tls-ca", other.CaFile, .. client]);
        Assert.True(clock.Elapsed < s_refusedWithin, $"took {clock.Elapsed}");
        Assert.NotEqual(0, wrongCa.ExitCode);
        Assert.Contains(cluster.Url.Split(',')[0], wrongCa.Stderr, StringComparison.Ordinal);
        Assert.Contains("nats_tls_ca", wrongCa.Stderr, StringComparison.Ordinal);

        // The servers verify clients: without a certificate of their CA, the handshake fails.
        var noCertificate = await FerryProcess.RunAsync("user", "list", "--store", cluster.Url, "--nats-tls-ca", certificates.CaFile);
        Assert.NotEqual(0, noCertificate.ExitCode);
        Assert.Contains(cluster.Url.Split(',')[0], noCertificate.Stderr, StringComparison.Ordinal);
        var strangerCertificate = await FerryProcess.RunAsync("user", "list", "--store", cluster.Url, "--nats-tls-ca", certificates.CaFile,
            "--nats-tls-cert", other.ClientCertFile, "--nats-tls-key", other.ClientKeyFile);
        Assert.NotEqual(0, strangerCertificate.ExitCode);

        // The server too: it starts on the right files and refuses to start on the other CA.
        await using (var server = FerryProcess.Start(["serve", "--store", cluster.Url, "--nats-tls-ca", certificates.CaFile, .. client, "--plain",
            "--listen", "127.0.0.1:0", "--root", work.Combine("root"), "--state-dir", work.Combine("state")]))
        {
            await server.WaitForListeningAsync();
        }
        var serve = await FerryProcess.RunAsync(["serve", "--store", cluster.Url, "--nats-tls-ca", other.CaFile, .. client, "--plain",
            "--listen", "127.0.0.1:0", "--root", work.Combine("root"), "--state-dir", work.Combine("state")]);
        Assert.Equal(3, serve.ExitCode);
        Assert.Contains("store:", serve.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task In_operator_mode_a_creds_file_of_a_trusted_account_works_and_one_of_another_account_is_refused()
    {
        using var work = new TempDirectory("ferry-nats-creds");
        var url = clusters.InOperatorMode.Url;
        var creds = clusters.Trust.WriteUserCreds(work.Combine("ferry.creds"), "ferry-app");
        var seed = SeedOf(creds);
        string[] access = ["--store", url, "--nats-creds-file", creds];

        var keyFile = work.Combine("cleo.key");
        var added = await FerryProcess.RunAsync(["user", "add", "cleo", "--key-file", keyFile, .. access]);
        Assert.True(added.ExitCode == 0, added.Stderr);

        await using (var server = FerryProcess.Start(["serve", .. access, "--plain", "--listen", "127.0.0.1:0", "--root", work.Combine("root"),
            "--state-dir", work.Combine("state"), "--log-level", "Debug"]))
        {
            var address = await server.WaitForListeningAsync();
            var client = new Dictionary<string, string>
            {
                ["FERRY_CONFIG_DIR"] = work.Combine("client"),
                ["FERRY_USER"] = "cleo",
                ["FERRY_KEY"] = File.ReadAllText(keyFile).Trim(),
            };
            var source = TestFiles.Create(work.Combine("data.bin"), 700_000, seed: 9);
            var put = await RunAsync(client, "put", "--plain", "--server", address, source, "data.bin");
            Assert.True(put.ExitCode == 0, put.Stderr);
            var get = await RunAsync(client, "get", "--plain", "--server", address, "data.bin", work.Combine("back.bin"));
            Assert.True(get.ExitCode == 0, get.Stderr);
            TestFiles.AssertSame(source, work.Combine("back.bin"));
            Assert.Contains($"with the creds file {creds}", server.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain(seed, server.Stdout + server.Stderr, StringComparison.Ordinal);
        }

        // Well formed and signed, but by an account the operator never signed: the cluster says no, at once.
        var stranger = NatsOperatorTrust.WriteUntrustedCreds(work.Combine("stranger.creds"), "ferry-app");
        var clock = Stopwatch.StartNew();
        var list = await FerryProcess.RunAsync("user", "list", "--store", url, "--nats-creds-file", stranger);
        Assert.True(clock.Elapsed < s_refusedWithin, $"took {clock.Elapsed}");
        Assert.NotEqual(0, list.ExitCode);
        Assert.Contains(url["nats://".Length..].Split(',')[0], list.Stderr, StringComparison.Ordinal);
        Assert.Contains("authorization", list.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(SeedOf(stranger), list.Stdout + list.Stderr, StringComparison.Ordinal);

        var serve = await FerryProcess.RunAsync("serve", "--store", url, "--nats-creds-file", stranger,
            "--plain", "--listen", "127.0.0.1:0", "--root", work.Combine("root"), "--state-dir", work.Combine("state"));
        Assert.Equal(3, serve.ExitCode);
        Assert.Contains("store:", serve.Stderr, StringComparison.Ordinal);

        // Without any credentials an operator-mode cluster refuses too.
        var anonymous = await FerryProcess.RunAsync("user", "list", "--store", url);
        Assert.NotEqual(0, anonymous.ExitCode);
        Assert.Contains("authorization", anonymous.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    private static string SeedOf(string credsFile) =>
        File.ReadAllLines(credsFile).Single(line => line.StartsWith("SU", StringComparison.Ordinal));

    [Theory]
    [InlineData("user-without-password", "nats_user: needs nats_password_file")]
    [InlineData("password-without-user", "nats_password_file: needs nats_user")]
    [InlineData("empty-password-file", "is empty; it must hold the password")]
    [InlineData("missing-password-file", "does not exist")]
    [InlineData("creds-and-user", "nats_creds_file: cannot be used together with nats_user")]
    [InlineData("key-without-cert", "nats_tls_key: needs nats_tls_cert")]
    [InlineData("missing-ca", "nats_tls_ca:")]
    [InlineData("credentials-in-address", "store: must not hold credentials")]
    [InlineData("stream-without-store", "audit_stream: applies to a NATS store only")]
    [InlineData("other-scheme", "store: must be nats://HOST:PORT")]
    [InlineData("no-address", "store: '' in 'nats://' is not HOST:PORT.")]
    [InlineData("empty-address-in-list", "store: '' in 'nats://127.0.0.1:4222,,' is not HOST:PORT.")]
    [InlineData("port-out-of-range", "store: '127.0.0.1:70000' in 'nats://127.0.0.1:70000' is not HOST:PORT.")]
    [InlineData("no-port", "store: 'nats-host' in 'nats://nats-host' is not HOST:PORT.")]
    [InlineData("replicas-zero", "nats_replicas: must be 1 to 5, not 0.")]
    [InlineData("replicas-six", "nats_replicas: must be 1 to 5, not 6.")]
    [InlineData("replicas-negative", "nats_replicas: must be 1 to 5, not -1.")]
    public async Task Settings_that_cannot_work_are_usage_errors_before_any_connection(string problem, string expected)
    {
        using var work = new TempDirectory("ferry-nats-settings");
        var password = work.Combine("password");
        await File.WriteAllTextAsync(password, "s3cret-never-shown");
        var empty = work.Combine("empty");
        await File.WriteAllTextAsync(empty, "\n");
        var creds = work.Combine("app.creds");
        await File.WriteAllTextAsync(creds, "not read before the settings are checked");
        var store = "nats://127.0.0.1:1"; // nothing listens: a check that connected first would fail differently
        string[] args = problem switch
        {
            "user-without-password" => ["--store", store, "--nats-user", "app"],
            "password-without-user" => ["--store", store, "--nats-password-file", password],
            "empty-password-file" => ["--store", store, "--nats-user", "app", "--nats-password-file", empty],
            "missing-password-file" => ["--store", store, "--nats-user", "app", "--nats-password-file", work.Combine("none")],
            "creds-and-user" => ["--store", store, "--nats-creds-file", creds, "--nats-user", "app", "--nats-password-file", password],
            "key-without-cert" => ["--store", store, "--nats-tls-key", password],
            "missing-ca" => ["--store", store, "--nats-tls-ca", work.Combine("none.pem")],
            "credentials-in-address" => ["--store", "nats://app:s3cret-never-shown@127.0.0.1:4222"],
            "stream-without-store" => ["--audit-stream", "audit"],
            "other-scheme" => ["--store", "http://127.0.0.1:4222"],
            "no-address" => ["--store", "nats://"],
            "empty-address-in-list" => ["--store", "nats://127.0.0.1:4222,,"],
            "port-out-of-range" => ["--store", "nats://127.0.0.1:70000"],
            "no-port" => ["--store", "nats://nats-host"],
            "replicas-zero" => ["--store", store, "--nats-replicas", "0"],
            "replicas-six" => ["--store", store, "--nats-replicas", "6"],
            "replicas-negative" => ["--store", store, "--nats-replicas", "-1"],
            _ => throw new ArgumentOutOfRangeException(nameof(problem)),
        };
        var serve = await FerryProcess.RunAsync(["serve", .. args, "--print-config"]);
        Assert.Equal(2, serve.ExitCode);
        Assert.Contains(expected, serve.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-never-shown", serve.Stdout + serve.Stderr, StringComparison.Ordinal);

        if (problem != "stream-without-store")
        {
            var user = await FerryProcess.RunAsync(["user", "list", .. args]);
            Assert.Equal(2, user.ExitCode);
            Assert.Contains(expected.Split(':')[0], user.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("s3cret-never-shown", user.Stdout + user.Stderr, StringComparison.Ordinal);
        }
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(Dictionary<string, string> environment, params string[] args)
    {
        await using var p = FerryProcess.Start(args, environment: environment);
        await p.WaitForExitAsync();
        return (p.ExitCode, p.Stdout, p.Stderr);
    }
}
