using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Testing;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary>Login, TLS and permissions (docs/security.md), each case over a real socket.</summary>
public class SecurityTests : IDisposable
{
    private static readonly byte[] s_aliceKey = Handshake.NewKey();
    private static readonly byte[] s_readerKey = Handshake.NewKey();
    private readonly TempDirectory _client = new("ferry-client-config");

    public void Dispose() => _client.Dispose();

    private KnownServers Known => new(_client.Combine("known_servers"));

    private static Task<TestServer> StartAsync(bool tls = true, Func<Ferry.Server.Hosting.FerryServerOptions, Ferry.Server.Hosting.FerryServerOptions>? more = null) =>
        TestServer.StartAsync(o =>
        {
            var options = o with
            {
                RequireAuthentication = true,
                UseTls = tls,
                AuthFailureDelay = TimeSpan.FromMilliseconds(300),
                AuditLogPath = Path.Combine(o.StateDirectory, "audit.jsonl"),
            };
            Directory.CreateDirectory(options.StateDirectory);
            UsersFile.Save(options.EffectiveUsersFile,
            [
                new UserAccount { Name = "alice", Key = s_aliceKey },
                new UserAccount { Name = "reader", Key = s_readerKey, Permissions = Permissions.Read },
            ]);
            return more?.Invoke(options) ?? options;
        });

    private static async Task<string> AuditLogOnceItContainsAsync(TestServer server, string expected)
    {
        var path = Path.Combine(server.Options.StateDirectory, "audit.jsonl");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        string text;
        while (!(text = await File.ReadAllTextAsync(path)).Contains(expected, StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        Assert.Contains(expected, text);
        return text;
    }

    private FerryClientOptions Login(string user, byte[] key, bool tls = true) => new()
    {
        UseTls = tls,
        Credentials = new ClientCredentials(user, key),
        TrustStore = Known,
    };

    [Fact]
    public async Task Servers_started_at_once_on_one_state_folder_share_one_certificate()
    {
        using var state = new TempDirectory("ferry-state");
        // Eight at once on an empty folder: each either makes the certificate or adopts the one that won the race;
        // none fails, and no temporary file is left behind.
        using var start = new Barrier(8);
        var fingerprints = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            start.SignalAndWait(TestTimeouts.Default);
            using var certificate = ServerCertificate.LoadOrCreate(state.Path);
            return ServerCertificate.Fingerprint(certificate);
        })));
        Assert.Single(fingerprints.Distinct());
        Assert.Equal([ServerCertificate.FileName], Directory.GetFiles(state.Path).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_right_key_logs_in_and_files_land_in_the_users_home(bool tls)
    {
        await using var server = await StartAsync(tls);
        string? pinned = null;
        await using var client = await FerryClient.ConnectAsync(server.Address, Login("alice", s_aliceKey, tls) with { OnFirstUse = (_, f) => pinned = f },
            TestTimeouts.Token());
        Assert.Equal("alice", client.User);
        Assert.Equal(tls, client.IsTls);
        // The client offers only AEAD suites and the server refuses anything else (TlsSettings.IsAcceptable); which one
        // is picked is the server's platform preference (it sets no list, to share one OpenSSL context).
        if (tls)
            Assert.True(Ferry.Protocol.Transport.TlsSettings.IsAcceptable(client.CipherSuite!.Value), $"negotiated {client.CipherSuite}");
        else
            Assert.Null(client.CipherSuite);
        Assert.Equal("HI", Encoding.UTF8.GetString(await client.EchoAsync("hi"u8.ToArray(), TestTimeouts.Token())));
        if (tls)
        {
            Assert.Equal(server.Server.CertificateFingerprint, pinned);
            Assert.Equal(pinned, Known.Find(server.Address.ToString()));
        }
        // A command is audited when its handler returns, just after the reply went out.
        var audit = await AuditLogOnceItContainsAsync(server, "\"command\":\"echo\"");
        Assert.Contains("\"event\":\"login\"", audit);
        Assert.Contains("\"user\":\"alice\"", audit);
    }

    [Fact]
    public async Task Wrong_key_and_unknown_user_fail_alike_after_the_same_delay_and_the_server_keeps_serving()
    {
        await using var server = await StartAsync();
        async Task<(FerryRemoteException Error, TimeSpan Elapsed)> Fail(string user, byte[] key)
        {
            var watch = Stopwatch.StartNew();
            var ex = await Assert.ThrowsAsync<FerryRemoteException>(() => FerryClient.ConnectAsync(server.Address, Login(user, key), TestTimeouts.Token()));
            return (ex, watch.Elapsed);
        }

        var wrongKey = await Fail("alice", Handshake.NewKey());
        var unknown = await Fail("mallory", Handshake.NewKey());
        Assert.Equal(FerryErrorCode.AuthenticationFailed, wrongKey.Error.Code);
        Assert.Equal(FerryErrorCode.AuthenticationFailed, unknown.Error.Code);
        Assert.Equal(wrongKey.Error.Message, unknown.Error.Message);
        Assert.True(wrongKey.Elapsed >= TimeSpan.FromMilliseconds(300) && unknown.Elapsed >= TimeSpan.FromMilliseconds(300));

        await using var client = await FerryClient.ConnectAsync(server.Address, Login("alice", s_aliceKey), TestTimeouts.Token());
        Assert.Equal("alice", client.User);
        var audit = await File.ReadAllTextAsync(Path.Combine(server.Options.StateDirectory, "audit.jsonl"));
        Assert.Contains("unknown user", audit);
        Assert.Contains("wrong key", audit);
    }

    [Fact]
    public async Task Repeated_failures_from_one_address_are_throttled()
    {
        await using var server = await StartAsync(more: o => o with { MaxAuthFailures = 3, AuthFailureDelay = TimeSpan.Zero });
        for (var i = 0; i < 3; i++)
            Assert.Equal(FerryErrorCode.AuthenticationFailed,
                (await Assert.ThrowsAsync<FerryRemoteException>(() => FerryClient.ConnectAsync(server.Address, Login("alice", Handshake.NewKey()), TestTimeouts.Token()))).Code);
        // Even the right key is refused while the address is throttled.
        Assert.Equal(FerryErrorCode.AuthenticationThrottled,
            (await Assert.ThrowsAsync<FerryRemoteException>(() => FerryClient.ConnectAsync(server.Address, Login("alice", s_aliceKey), TestTimeouts.Token()))).Code);
    }

    /// <summary>A raw plain-TCP login: hello, then an auth answer computed by <paramref name="answer"/> from the server's challenge.</summary>
    private static async Task<(RawConnection Raw, byte[] ServerChallenge)> RawHelloAsync(TestServer server)
    {
        var raw = await server.ConnectRawAsync();
        await raw.SendHelloAsync();
        var hello = JsonSerializer.Deserialize((await raw.ReadAsync())!.Json, FerryJsonContext.Default.HelloMessage)!;
        Assert.Equal("hmac-sha256", hello.Auth);
        return (raw, hello.Challenge!);
    }

    /// <summary>
    /// A complete raw login on plain TCP: hello, auth, auth_ok; the reader then checks the server's frame MACs, and the
    /// returned writer (into a pipe whose bytes the test sends itself) adds the client's.
    /// </summary>
    private static async Task<(RawConnection Raw, FrameWriter Writer, Pipe Pipe)> RawLoginAsync(TestServer server, string user, byte[] key)
    {
        var (raw, challenge) = await RawHelloAsync(server);
        var clientChallenge = Handshake.NewChallenge();
        var transcript = Handshake.Transcript(1, challenge, clientChallenge, user, []);
        await raw.SendAsync(AuthFrame(user, clientChallenge, Handshake.ClientProof(key, transcript)));
        Assert.Equal("auth_ok", (await raw.ReadAsync())!.Command);
        var (clientToServer, serverToClient) = Handshake.SessionKeys(key, transcript);
        raw.Reader.EnableMac(serverToClient);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var writer = new FrameWriter(pipe.Writer);
        writer.EnableMac(clientToServer);
        return (raw, writer, pipe);
    }

    private static byte[] AuthFrame(string user, byte[] clientChallenge, byte[] proof) =>
        FrameBytes.Frame(JsonSerializer.Serialize(new AuthMessage { User = user, Challenge = clientChallenge, Proof = proof }, FerryJsonContext.Default.AuthMessage));

    [Fact]
    public async Task A_replayed_answer_fails()
    {
        await using var server = await StartAsync(tls: false);
        var (first, challenge1) = await RawHelloAsync(server);
        var clientChallenge = Handshake.NewChallenge();
        var transcript = Handshake.Transcript(1, challenge1, clientChallenge, "alice", []);
        var answer = AuthFrame("alice", clientChallenge, Handshake.ClientProof(s_aliceKey, transcript));
        await first.SendAsync(answer);
        Assert.Equal("auth_ok", (await first.ReadAsync())!.Command);
        await first.DisposeAsync();

        // An eavesdropper replays the same bytes on a new connection: the server's challenge is new, so the proof is stale.
        var (second, _) = await RawHelloAsync(server);
        await second.SendAsync(answer);
        Assert.Equal(("authentication_failed", true), await second.ReadErrorAsync());
        Assert.True(await second.IsClosedByPeerAsync());
        await second.DisposeAsync();
    }

    public static TheoryData<string> Tampering => ["version", "user", "binding", "server challenge", "label"];

    [Theory]
    [MemberData(nameof(Tampering))]
    public async Task A_proof_over_a_tampered_transcript_fails(string tamper)
    {
        await using var server = await StartAsync(tls: false);
        var (raw, challenge) = await RawHelloAsync(server);
        var clientChallenge = Handshake.NewChallenge();
        var otherChallenge = (byte[])challenge.Clone();
        otherChallenge[0] ^= 1;
        var transcript = tamper switch
        {
            "version" => Handshake.Transcript(2, challenge, clientChallenge, "alice", []),
            "user" => Handshake.Transcript(1, challenge, clientChallenge, "reader", []),
            "binding" => Handshake.Transcript(1, challenge, clientChallenge, "alice", new byte[32]),
            "server challenge" => Handshake.Transcript(1, otherChallenge, clientChallenge, "alice", []),
            _ => Handshake.Transcript(1, challenge, clientChallenge, "alice", []),
        };
        var proof = tamper == "label" ? Handshake.ServerProof(s_aliceKey, transcript) : Handshake.ClientProof(s_aliceKey, transcript);
        await raw.SendAsync(AuthFrame("alice", clientChallenge, proof));
        Assert.Equal(("authentication_failed", true), await raw.ReadErrorAsync());
        await raw.DisposeAsync();
    }

    [Theory]
    [InlineData("""{"cmd":"auth","user":"alice","challenge":"AAAA","proof":"AAAA"}""")]
    [InlineData("""{"cmd":"auth","user":"alice"}""")]
    [InlineData("""{"cmd":"auth","user":5,"challenge":[],"proof":null}""")]
    [InlineData("""{"cmd":"auth","user":"alice","challenge":null,"proof":null}""")]
    [InlineData("""{"cmd":"auth","user":"alice","challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","proof":null}""")]
    [InlineData("""{"cmd":"auth","user":"../../etc","challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","proof":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}""")]
    public async Task Malformed_handshake_answers_fail_like_a_wrong_key(string frame)
    {
        await using var server = await StartAsync(tls: false);
        var (raw, _) = await RawHelloAsync(server);
        await raw.SendAsync(FrameBytes.Frame(frame));
        Assert.Equal(("authentication_failed", true), await raw.ReadErrorAsync());
        await raw.DisposeAsync();
        await using var ok = await FerryClient.ConnectAsync(server.Address, Login("alice", s_aliceKey, tls: false), TestTimeouts.Token());
    }

    [Fact]
    public async Task An_oversized_handshake_frame_is_refused_without_allocating_it()
    {
        await using var server = await StartAsync(tls: false);
        var (raw, _) = await RawHelloAsync(server);
        await raw.SendAsync(FrameBytes.Prefix(0x7FFFFFFF));
        Assert.Equal(("header_too_large", true), await raw.ReadErrorAsync());
        await raw.DisposeAsync();
        await using var ok = await FerryClient.ConnectAsync(server.Address, Login("alice", s_aliceKey, tls: false), TestTimeouts.Token());
    }

    [Theory]
    [InlineData("""{"cmd":"ls","path":""}""")]
    [InlineData("""{"cmd":"echo","bodysize":2}""")]
    [InlineData("""{"cmd":"get","id":1,"path":"x"}""")]
    public async Task Nothing_but_the_handshake_is_accepted_before_login(string frame)
    {
        await using var server = await StartAsync(tls: false);
        var (raw, _) = await RawHelloAsync(server);
        await raw.SendAsync(FrameBytes.Concat(FrameBytes.Frame(frame), "hi"u8.ToArray()));
        Assert.Equal(("authentication_required", true), await raw.ReadErrorAsync());
        Assert.True(await raw.IsClosedByPeerAsync());
        await raw.DisposeAsync();
    }

    [Fact]
    public async Task A_server_that_does_not_know_the_key_is_caught_before_anything_is_sent()
    {
        // An impostor: answers hello with a challenge, accepts any login, and sends a proof it cannot compute.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var received = new List<string>();
        var impostor = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync(TestTimeouts.Token());
            await using var stream = new NetworkStream(socket);
            var reader = new FrameReader(PipeReader.Create(stream));
            var pipe = new Pipe();
            var writer = new FrameWriter(pipe.Writer);
            async Task SendAsync()
            {
                await writer.FlushAsync(CancellationToken.None);
                var result = await pipe.Reader.ReadAsync();
                foreach (var segment in result.Buffer)
                    await stream.WriteAsync(segment);
                pipe.Reader.AdvanceTo(result.Buffer.End);
            }
            await reader.ReadFrameAsync(TestTimeouts.Token());
            writer.WriteHeader(new HelloMessage { Version = 1, Auth = "hmac-sha256", Challenge = Handshake.NewChallenge() }, FerryJsonContext.Default.HelloMessage);
            await SendAsync();
            await reader.ReadFrameAsync(TestTimeouts.Token());
            writer.WriteHeader(new AuthOkMessage { Proof = Handshake.NewKey(), FrameMac = true }, FerryJsonContext.Default.AuthOkMessage);
            await SendAsync();
            try
            {
                while (await reader.ReadFrameAsync(TestTimeouts.Token()) is { } frame)
                    received.Add(frame.Command);
            }
            catch (Exception ex) when (ex is IOException or FerryProtocolException or SocketException) { }
        });

        var ex = await Assert.ThrowsAsync<FerryException>(() =>
            FerryClient.ConnectAsync(new ServerAddress("127.0.0.1", port), Login("alice", s_aliceKey, tls: false), TestTimeouts.Token()));
        Assert.Equal(FerryErrorCode.ServerNotAuthenticated, ex.Code);
        await impostor.WaitAsync(TestTimeouts.Default);
        Assert.Empty(received);
    }

    [Fact]
    public async Task A_changed_certificate_is_refused_with_a_warning()
    {
        await using var server = await StartAsync();
        Known.Pin(server.Address.ToString(), "SHA256:" + Convert.ToBase64String(new byte[32]).TrimEnd('='));
        var ex = await Assert.ThrowsAsync<FerryException>(() => FerryClient.ConnectAsync(server.Address, Login("alice", s_aliceKey), TestTimeouts.Token()));
        Assert.Equal(FerryErrorCode.CertificateMismatch, ex.Code);
        Assert.Contains("CHANGED", ex.Message);
        Assert.Contains(server.Server.CertificateFingerprint!, ex.Message);
    }

    [Fact]
    public async Task The_certificate_survives_a_restart_so_the_pin_still_matches()
    {
        string state;
        string fingerprint;
        await using (var first = await StartAsync())
        {
            state = first.Options.StateDirectory;
            fingerprint = first.Server.CertificateFingerprint!;
            await using var c = await first.ConnectAsync(Login("alice", s_aliceKey));
        }
        // The temporary state folder is deleted with the server; recreate the scenario with a kept folder.
        using var kept = new TempDirectory("ferry-state");
        var cert1 = ServerCertificate.LoadOrCreate(kept.Path);
        var cert2 = ServerCertificate.LoadOrCreate(kept.Path);
        Assert.Equal(ServerCertificate.Fingerprint(cert1), ServerCertificate.Fingerprint(cert2));
        Assert.StartsWith("SHA256:", fingerprint);
        Assert.False(string.IsNullOrEmpty(state));
    }

    [Fact]
    public async Task A_frame_altered_after_login_on_plain_tcp_is_caught()
    {
        await using var server = await StartAsync(tls: false);
        var (raw, writer, pipe) = await RawLoginAsync(server, "alice", s_aliceKey);

        // A correctly authenticated echo works...
        writer.WriteHeader(new EchoMessage { BodySize = 3 }, FerryJsonContext.Default.EchoMessage, 3);
        writer.WriteBody("abc"u8);
        writer.WriteHeader(new EchoMessage { BodySize = 3 }, FerryJsonContext.Default.EchoMessage, 3);
        writer.WriteBody("xyz"u8);
        await writer.FlushAsync(CancellationToken.None);
        var frames = (await pipe.Reader.ReadAsync()).Buffer.ToArray();
        var firstLength = frames.Length / 2;
        await raw.SendAsync(frames.AsMemory(0, firstLength));
        Assert.Equal("ABC", Encoding.UTF8.GetString((await raw.ReadAsync())!.Body));

        // ...and the same frame with one body byte changed on the way is refused and the connection closed. A body is
        // checked when it ends, so the reply to the altered echo may come first; nothing after it does.
        var altered = frames[firstLength..];
        altered[^(FrameMac.TrailerBytes + 1)] ^= 0x20;
        await raw.SendAsync(altered);
        var reply = await raw.ReadAsync();
        if (reply!.Command == "echo")
            reply = await raw.ReadAsync();
        Assert.Equal("error", reply!.Command);
        Assert.Contains("frame_mac_invalid", reply.Json);
        Assert.True(await raw.IsClosedByPeerAsync());
        await raw.DisposeAsync();
    }

    [Fact]
    public async Task A_command_altered_after_login_on_plain_tcp_is_refused_before_it_runs()
    {
        await using var server = await StartAsync(tls: false);
        var (raw, writer, pipe) = await RawLoginAsync(server, "alice", s_aliceKey);
        writer.WriteHeader(new MkdirMessage { Path = "aaa" }, FerryJsonContext.Default.MkdirMessage);
        await writer.FlushAsync(CancellationToken.None);
        var frame = (await pipe.Reader.ReadAsync()).Buffer.ToArray();
        var index = Encoding.UTF8.GetString(frame).IndexOf("aaa", StringComparison.Ordinal);
        frame[index] = (byte)'b'; // someone on the path rewrites the target
        await raw.SendAsync(frame);
        Assert.Equal(("frame_mac_invalid", true), await raw.ReadErrorAsync());
        Assert.False(Directory.Exists(Path.Combine(server.Root, "alice", "baa")));
        Assert.False(Directory.Exists(Path.Combine(server.Root, "alice", "aaa")));
        await raw.DisposeAsync();
    }

    [Fact]
    public async Task Permissions_are_enforced_and_users_are_confined_to_their_homes()
    {
        await using var server = await StartAsync(tls: false);
        await using (var alice = await FerryClient.ConnectAsync(server.Address, Login("alice", s_aliceKey, tls: false), TestTimeouts.Token()))
            Assert.Equal("HI", Encoding.UTF8.GetString(await alice.EchoAsync("hi"u8.ToArray(), TestTimeouts.Token())));

        // The reader may read but not write; each user sees only their own home.
        Directory.CreateDirectory(Path.Combine(server.Root, "reader"));
        await File.WriteAllTextAsync(Path.Combine(server.Root, "reader", "r.txt"), "readable");
        Directory.CreateDirectory(Path.Combine(server.Root, "alice"));
        await File.WriteAllTextAsync(Path.Combine(server.Root, "alice", "private.txt"), "alice only");

        var (raw, writer, pipe) = await RawLoginAsync(server, "reader", s_readerKey);
        async Task SendAsync(object header)
        {
            var json = JsonSerializer.SerializeToUtf8Bytes(header);
            writer.WriteHeader(new RawHeader(json), RawHeader.TypeInfo);
            await writer.FlushAsync(CancellationToken.None);
            var bytes = (await pipe.Reader.ReadAsync()).Buffer;
            await raw.SendAsync(bytes.ToArray());
            pipe.Reader.AdvanceTo(bytes.End);
        }

        await SendAsync(new { cmd = "ls", path = "" });
        var listing = await raw.ReadAsync();
        Assert.Equal("listing", listing!.Command);
        Assert.Contains("r.txt", Encoding.UTF8.GetString(listing.Body));
        Assert.DoesNotContain("private", Encoding.UTF8.GetString(listing.Body));
        await SendAsync(new { cmd = "mkdir", path = "new" });
        Assert.Equal(("permission_denied", false), await raw.ReadErrorAsync());
        await SendAsync(new { cmd = "get", id = 1, path = "../alice/private.txt" });
        Assert.Equal(("path_escapes_root", false), await raw.ReadErrorAsync());
        await raw.DisposeAsync();
    }

    [Fact]
    public async Task Connections_per_user_are_capped()
    {
        await using var server = await StartAsync(tls: false, more: o => o with { MaxConnectionsPerUser = 2 });
        await using var a = await FerryClient.ConnectAsync(server.Address, Login("alice", s_aliceKey, false), TestTimeouts.Token());
        await using var b = await FerryClient.ConnectAsync(server.Address, Login("alice", s_aliceKey, false), TestTimeouts.Token());
        var ex = await Assert.ThrowsAsync<FerryRemoteException>(() => FerryClient.ConnectAsync(server.Address, Login("alice", s_aliceKey, false), TestTimeouts.Token()));
        Assert.Equal(FerryErrorCode.TooManyConnections, ex.Code);
        await using var other = await FerryClient.ConnectAsync(server.Address, Login("reader", s_readerKey, false), TestTimeouts.Token());
    }

    [Fact]
    public async Task A_client_without_credentials_is_told_how_to_log_in()
    {
        await using var server = await StartAsync();
        var ex = await Assert.ThrowsAsync<FerryException>(() => FerryClient.ConnectAsync(server.Address, new FerryClientOptions { TrustStore = Known }, TestTimeouts.Token()));
        Assert.Equal(FerryErrorCode.AuthenticationRequired, ex.Code);
        Assert.Contains("ferry login", ex.Message);
    }

    [Fact]
    public async Task A_malformed_users_file_stops_the_server_with_a_clear_error()
    {
        using var state = new TempDirectory("ferry-state");
        await File.WriteAllTextAsync(Path.Combine(state.Path, "users.json"), """{"version":1,"users":[{"name":"bob","key":"short"}]}""");
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => TestServer.StartAsync(o => o with { RequireAuthentication = true, StateDirectory = state.Path }));
        Assert.Contains("not 32 bytes", ex.Message);
    }

    /// <summary>Sends an arbitrary JSON object as a header through a FrameWriter (so it gets a MAC).</summary>
    private sealed record RawHeader(byte[] Json)
    {
        public static System.Text.Json.Serialization.Metadata.JsonTypeInfo<RawHeader> TypeInfo { get; } = CreateTypeInfo();

        private static System.Text.Json.Serialization.Metadata.JsonTypeInfo<RawHeader> CreateTypeInfo()
        {
            var options = new JsonSerializerOptions { TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver() };
            options.Converters.Add(new RawConverter());
            return (System.Text.Json.Serialization.Metadata.JsonTypeInfo<RawHeader>)options.GetTypeInfo(typeof(RawHeader));
        }

        private sealed class RawConverter : System.Text.Json.Serialization.JsonConverter<RawHeader>
        {
            public override RawHeader Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => throw new NotSupportedException();
            public override void Write(Utf8JsonWriter writer, RawHeader value, JsonSerializerOptions options) => writer.WriteRawValue(value.Json);
        }
    }
}
