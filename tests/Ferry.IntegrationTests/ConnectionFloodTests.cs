using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Transport;
using Ferry.Server.Auth;
using Ferry.Server.Hosting;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// Silent connections must not lock real users out (docs/security.md, "Connection flooding and login grace"): a
/// thousand idle connections, TLS and plain, from the client's own address and three others, and the real client still
/// logs in; the idle ones are closed when their login grace time ends, the real one stays.
/// </summary>
[Collection(nameof(MemorySensitive))]
public class ConnectionFloodTests : IDisposable
{
    private static readonly IPAddress[] s_floodAddresses =
        [IPAddress.Loopback, IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3"), IPAddress.Parse("127.0.0.4")];

    private readonly TempDirectory _client = new("ferry-flood-client");

    public void Dispose() => _client.Dispose();

    /// <summary>
    /// 1000 unless the descriptor limit is too low for it: each idle connection costs a descriptor here and (while the
    /// server holds it) one in the server, which runs in this process too.
    /// </summary>
    private static int FloodSize()
    {
        var limit = OpenFileLimit();
        return (int)Math.Clamp((limit - 400) / 2, 100, 1000);
    }

    private static long OpenFileLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
        }
        return 1024;
    }

    [Fact]
    public async Task A_tls_client_logs_in_while_1000_idle_connections_hold_its_address_and_the_idle_ones_are_closed_after_the_grace_time()
    {
        var key = Handshake.NewKey();
        await using var server = await TestServer.StartAsync(o =>
        {
            var options = o with
            {
                RequireAuthentication = true,
                UseTls = true,
                // Long enough that the real client arrives while the flood is still held (so it must shed one of
                // them), short enough that the test sees the flood closed.
                LoginGraceTime = TimeSpan.FromSeconds(4),
            };
            Directory.CreateDirectory(options.StateDirectory);
            UsersFile.Save(options.EffectiveUsersFile, [new UserAccount { Name = "alice", Key = key }]);
            return options;
        });

        var flood = await OpenFloodAsync(server, FloodSize(), tlsEvery: 4);
        try
        {
            // The real client arrives when the flood has sat long enough to be shed for it.
            await HostTests.WaitUntilAsync(() => server.Server.SheddableConnectionCount > 0);

            // From 127.0.0.1, the address the flood is heaviest on.
            await using var alice = await FerryClient.ConnectAsync(server.Address, new FerryClientOptions
            {
                UseTls = true,
                Credentials = new ClientCredentials("alice", key),
                TrustStore = new KnownServers(_client.Combine("known_servers")),
            }, TestTimeouts.Token());
            Assert.Equal("UP", Encoding.UTF8.GetString(await alice.EchoAsync("up"u8.ToArray(), TestTimeouts.Token())));

            // Every idle connection ends: shed to make room, or closed at the end of its grace time.
            var watch = Stopwatch.StartNew();
            await Task.WhenAll(flood.Select(f => f.ClosedByServerAsync()));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"the flood was closed only after {watch.Elapsed}");
            await HostTests.WaitUntilAsync(() => server.Server.UnauthenticatedConnectionCount == 0);

            // The logged-in client is not subject to the grace time.
            Assert.Equal("STILL", Encoding.UTF8.GetString(await alice.EchoAsync("still"u8.ToArray(), TestTimeouts.Token())));
            Assert.Contains(server.Logs.Lines, l => l.Message.Contains("login_timeout", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var f in flood)
                await f.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_classic_client_uploads_to_an_insecure_no_auth_server_while_1000_idle_connections_hold_its_address()
    {
        using var local = new TempDirectory("ferry-flood-local");
        await using var server = await TestServer.StartAsync(o => o with
        {
            InsecureNoAuth = true,
            RequireAuthentication = false,
            UseTls = false,
            LoginGraceTime = TimeSpan.FromSeconds(4),
        });

        var flood = await OpenFloodAsync(server, FloodSize(), tlsEvery: 0);
        try
        {
            await HostTests.WaitUntilAsync(() => server.Server.SheddableConnectionCount > 0);

            // The real Python client's classic upload (no hello, nothing read), from 127.0.0.1.
            var content = Encoding.UTF8.GetBytes("classic upload under a flood\n");
            await File.WriteAllBytesAsync(local.Combine("classic.txt"), content);
            var upload = await RunClassicUploadAsync(server, local.Combine("classic.txt"));
            Assert.True(upload.Code == 0, upload.Output);
            Assert.Equal(content, await File.ReadAllBytesAsync(Path.Combine(server.Root, "classic.txt")));

            var watch = Stopwatch.StartNew();
            await Task.WhenAll(flood.Select(f => f.ClosedByServerAsync()));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"the flood was closed only after {watch.Elapsed}");
            await HostTests.WaitUntilAsync(() => server.Server.UnauthenticatedConnectionCount == 0);
        }
        finally
        {
            foreach (var f in flood)
                await f.DisposeAsync();
        }
    }

    [Fact]
    public async Task Connections_stalled_in_the_tls_handshake_hold_a_handshake_slot_only_until_the_handshake_deadline()
    {
        var key = Handshake.NewKey();
        await using var server = await TestServer.StartAsync(o =>
        {
            var options = o with
            {
                RequireAuthentication = true,
                UseTls = true,
                MaxConcurrentTlsHandshakes = 2,
                TlsHandshakeTimeout = TimeSpan.FromSeconds(1),
            };
            Directory.CreateDirectory(options.StateDirectory);
            UsersFile.Save(options.EffectiveUsersFile, [new UserAccount { Name = "alice", Key = key }]);
            return options;
        });

        // Two peers that connect and never send a ClientHello take both handshake slots.
        await using var stalled1 = await RawConnection.ConnectAsync(server.EndPoint);
        await using var stalled2 = await RawConnection.ConnectAsync(server.EndPoint);
        await HostTests.WaitUntilAsync(() => server.Server.UnauthenticatedConnectionCount == 2);

        var watch = Stopwatch.StartNew();
        await using var alice = await FerryClient.ConnectAsync(server.Address, new FerryClientOptions
        {
            UseTls = true,
            Credentials = new ClientCredentials("alice", key),
            TrustStore = new KnownServers(_client.Combine("known_servers")),
        }, TestTimeouts.Token());
        Assert.Equal("OK", Encoding.UTF8.GetString(await alice.EchoAsync("ok"u8.ToArray(), TestTimeouts.Token())));
        Assert.True(await stalled1.IsClosedByPeerAsync());
        Assert.True(await stalled2.IsClosedByPeerAsync());
        // The client waited for a slot, which the deadline freed: not served at once, but served.
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(0.9), $"served after {watch.Elapsed}, before the stalled handshakes timed out");
    }

    /// <summary>
    /// Opens <paramref name="count"/> connections that send nothing, round-robin over four loopback addresses; every
    /// <paramref name="tlsEvery"/>-th one (0: none) completes a TLS handshake first and then stays silent.
    /// </summary>
    private static async Task<List<IdleConnection>> OpenFloodAsync(TestServer server, int count, int tlsEvery)
    {
        var flood = new List<IdleConnection>(count);
        for (var i = 0; i < count; i++)
        {
            var from = s_floodAddresses[i % s_floodAddresses.Length];
            flood.Add(await IdleConnection.OpenAsync(server.EndPoint, from, tls: tlsEvery > 0 && i % tlsEvery == 0));
        }
        return flood;
    }

    private static async Task<(int Code, string Output)> RunClassicUploadAsync(TestServer server, string path)
    {
        var directory = Path.Combine(PythonClientTests.FindRepositoryRoot(), "clients", "python");
        var info = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Keeps the socket open until the file is stored (a classic client reads nothing, so it cannot tell otherwise).
        const string script = """
            import os, socket, sys, time
            sys.path.insert(0, sys.argv[1])
            from ferry_client import classic_upload
            port, path, stored = int(sys.argv[2]), sys.argv[3], sys.argv[4]
            with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
                classic_upload(sock, path)
                deadline = time.monotonic() + 20
                while not os.path.exists(stored) and time.monotonic() < deadline:
                    time.sleep(0.05)
            sys.exit(0 if os.path.exists(stored) else 3)
            """;
        foreach (var arg in new[] { "-c", script, directory, server.EndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), path,
                     Path.Combine(server.Root, Path.GetFileName(path)) })
            info.ArgumentList.Add(arg);
        info.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(TestTimeouts.Token());
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>A connection that says nothing (after its TLS handshake, if it has one).</summary>
    private sealed class IdleConnection : IAsyncDisposable
    {
        private readonly Socket _socket;
        private readonly Stream _stream;

        private IdleConnection(Socket socket, Stream stream)
        {
            _socket = socket;
            _stream = stream;
        }

        public static async Task<IdleConnection> OpenAsync(IPEndPoint server, IPAddress from, bool tls)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(from, 0));
            await socket.ConnectAsync(server, TestTimeouts.Token());
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (tls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                try
                {
                    await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                    {
                        TargetHost = "localhost",
                        ApplicationProtocols = [TlsSettings.ApplicationProtocol],
                        RemoteCertificateValidationCallback = (_, _, _, _) => true,
                    }, TestTimeouts.Token());
                    stream = ssl;
                }
                catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException)
                {
                    // Shed while handshaking: the server made room for a newer one. It counts as closed.
                    await ssl.DisposeAsync();
                    stream = Stream.Null;
                }
            }
            return new IdleConnection(socket, stream);
        }

        /// <summary>Completes when the server has closed the connection (end of stream or reset), within the test timeout.</summary>
        public async Task ClosedByServerAsync()
        {
            if (_stream == Stream.Null)
                return;
            var buffer = new byte[4096];
            try
            {
                // Reads whatever error frame comes first, then the end of the stream.
                while (await _stream.ReadAsync(buffer, TestTimeouts.Token()) > 0)
                {
                }
            }
            catch (IOException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stream.DisposeAsync();
            _socket.Dispose();
        }
    }
}
