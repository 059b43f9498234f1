using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Ferry.Client;
using Ferry.Client.Security;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Errors;
using Ferry.Server.Auth;
using Ferry.Server.Hosting;
using Ferry.Server.Storage;
using Microsoft.Extensions.DependencyInjection;
using Ferry.Testing;
using Xunit.Abstractions;
using static Ferry.IntegrationTests.FileProtocolTests;

namespace Ferry.IntegrationTests;

/// <summary>
/// The hostile-input catalog (docs/reliability.md): one row per bad input, each sent to a live server of its own and
/// answered as docs/errors.md says. Every row is then followed by the same three checks: a fresh client is served
/// (echo, put, get, ls), nothing appeared or changed outside the server's root, and the whole process allocated far less
/// than any size a frame merely claimed.
/// </summary>
[Collection(nameof(MemorySensitive))]
public class HostileInputTests(ITestOutputHelper output)
{
    /// <summary>
    /// What one case may allocate, test and server together: half the smallest size any case claims (a 64 MiB header), so
    /// a server that believed a claim would fail.
    /// </summary>
    private const long AllocationBudget = 32L * 1024 * 1024;

    public static TheoryData<string> Catalog => new(HostileCases.All.Keys);

    [Theory]
    [MemberData(nameof(Catalog))]
    public Task Hostile_input_is_refused_and_the_server_still_serves_within_its_root_and_memory(string hostileCase) =>
        RunAsync(hostileCase, output, register: null);

    /// <summary>
    /// Runs one row against a server of its own; <paramref name="register"/> puts another store behind it (the checks
    /// look at what is stored through the store seam, so they hold for any store).
    /// </summary>
    internal static async Task RunAsync(string hostileCase, ITestOutputHelper output, Action<IServiceCollection, FerryServerOptions>? register)
    {
        var hostile = HostileCases.All[hostileCase];
        using var sandbox = new TempDirectory("ferry-hostile");
        var outside = Directory.CreateDirectory(sandbox.Combine("outside")).FullName;
        Directory.CreateDirectory(sandbox.Combine("root"));
        await File.WriteAllTextAsync(Path.Combine(outside, "secret.txt"), "secret");
        var key = Handshake.NewKey();
        await using var server = await TestServer.StartAsync(o =>
        {
            var options = o with { Root = sandbox.Combine("root"), StateDirectory = sandbox.Combine("state") };
            if (hostile.Login)
            {
                options = options with { RequireAuthentication = true, UseTls = false };
                Directory.CreateDirectory(options.StateDirectory);
                UsersFile.Save(options.EffectiveUsersFile, [new UserAccount { Name = "alice", Key = key }]);
            }
            return hostile.Configure?.Invoke(options) ?? options;
        }, register);
        var context = new HostileContext(server, sandbox.Path, outside, hostile.Login ? new ClientCredentials("alice", key) : null);

        var retainedBefore = GC.GetTotalMemory(forceFullCollection: true);
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        await hostile.Act(context);
        await HostTests.WaitUntilAsync(() => server.Server.ConnectionCount == 0);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        var retained = GC.GetTotalMemory(forceFullCollection: true) - retainedBefore;
        output.WriteLine($"{hostileCase}: allocated {allocated / 1024} KiB, retained {retained / 1024} KiB after the connections closed");
        Assert.True(allocated < AllocationBudget, $"allocated {allocated} bytes");
        Assert.True(retained < AllocationBudget, $"retained {retained} bytes");

        await context.AssertServesFreshClientAsync();
        AssertNothingOutsideTheRoot(sandbox.Path, outside);
    }

    /// <summary>The sandbox holds only the root, the server's state and the untouched secret beside them.</summary>
    private static void AssertNothingOutsideTheRoot(string sandbox, string outside)
    {
        Assert.Equal(["outside", "root"], Directory.GetFileSystemEntries(sandbox).Select(Path.GetFileName).Where(n => n != "state").Order());
        Assert.Equal(["secret.txt"], Directory.GetFileSystemEntries(outside).Select(Path.GetFileName));
        Assert.Equal("secret", File.ReadAllText(Path.Combine(outside, "secret.txt")));
    }

    [Fact]
    public async Task Every_log_line_of_a_connection_carries_its_id()
    {
        await using var server = await TestServer.StartAsync();
        await using (var client = await server.ConnectAsync())
            await client.EchoAsync("x"u8.ToArray(), TestTimeouts.Token());
        var serverLines = server.Logs.Lines.Where(l => l.Category.StartsWith("Ferry.Server", StringComparison.Ordinal) && l.EventId.Id >= 2000).ToList();
        Assert.NotEmpty(serverLines);
        Assert.All(serverLines, l => Assert.Matches("^c[0-9a-f]+$", Assert.Single(l.Scopes)));
    }
}

/// <summary>One hostile input: what it sends and checks right away, and the server settings it needs.</summary>
/// <param name="Act">Sends the input and asserts the server's immediate answer; closes its connections when done.</param>
/// <param name="Login">Run against a server that requires a login (plain TCP); the fresh client then logs in.</param>
/// <param name="Configure">Server settings for this case (short timeouts keep timing cases to a few seconds).</param>
/// <param name="LocalOnly">Needs the local store (it plants a symbolic link in the root's folder).</param>
internal sealed record HostileCase(Func<HostileContext, Task> Act, bool Login = false, Func<FerryServerOptions, FerryServerOptions>? Configure = null,
    bool LocalOnly = false);

/// <summary>The live server a case runs against, and the folder around its root.</summary>
internal sealed class HostileContext(TestServer server, string sandbox, string outside, ClientCredentials? credentials)
{
    public TestServer Server { get; } = server;
    public string Sandbox { get; } = sandbox;
    public string Outside { get; } = outside;
    public ClientCredentials? Credentials { get; } = credentials;

    public Task<FerryClient> ConnectAsync(ClientCredentials? credentials = null) =>
        FerryClient.ConnectAsync(Server.Address, new FerryClientOptions { UseTls = false, Credentials = credentials ?? Credentials }, TestTimeouts.Token());

    /// <summary>The names at the top of the home the raw connections of a case use, read through the server's store.</summary>
    public async Task<IReadOnlyList<string>> StoredNamesAsync()
    {
        var stores = Server.Services.GetRequiredService<IFileStoreProvider>();
        var store = Credentials is { } login && Server.Services.GetRequiredService<IUserStore>().TryGet(login.User, out var account)
            ? stores.ForUser(account)
            : stores.ForEveryone();
        return (await store.ListAsync("", recursive: false, TestTimeouts.Token())).Select(e => e.Name).ToList();
    }

    /// <summary>Stores a small text file through a client, as any user of the server would.</summary>
    public async Task PutTextAsync(string name, string text)
    {
        await using var client = await ConnectAsync();
        using var local = new TempDirectory("ferry-text");
        await File.WriteAllTextAsync(local.Combine(name), text);
        await client.PutFileAsync(local.Combine(name), name, new Ferry.Client.Transfers.PutOptions { Force = true }, cancellationToken: TestTimeouts.Token());
    }

    /// <summary>A new client: echo, a small upload, its download and a listing all work.</summary>
    public async Task AssertServesFreshClientAsync()
    {
        await using var client = await ConnectAsync();
        Assert.Equal("FRESH", Encoding.UTF8.GetString(await client.EchoAsync("fresh"u8.ToArray(), TestTimeouts.Token())));
        using var local = new TempDirectory("ferry-fresh");
        var data = RandomBytes(100_000, 5);
        await File.WriteAllBytesAsync(local.Combine("fresh.bin"), data);
        await client.PutFileAsync(local.Combine("fresh.bin"), "fresh.bin", new Ferry.Client.Transfers.PutOptions { Force = true }, cancellationToken: TestTimeouts.Token());
        await client.GetFileAsync("fresh.bin", local.Combine("back.bin"), cancellationToken: TestTimeouts.Token());
        Assert.Equal(data, await File.ReadAllBytesAsync(local.Combine("back.bin")));
        Assert.Contains("fresh.bin", (await client.ListAsync("", cancellationToken: TestTimeouts.Token())).Select(e => e.Name));
    }
}

/// <summary>The rows of the catalog, by readable name.</summary>
internal static class HostileCases
{
    private const long MiB = 1024 * 1024;

    public static readonly IReadOnlyDictionary<string, HostileCase> All = Build();

    private static Dictionary<string, HostileCase> Build()
    {
        var cases = new Dictionary<string, HostileCase>(StringComparer.Ordinal);
        void Add(string name, HostileCase hostile) => cases.Add(name, hostile);

        // Framing: the 4-byte length and the header bytes.
        Add("header length 0", Fatal(FrameBytes.Prefix(0), "header_length_invalid"));
        Add("header length 0xFFFFFFFF", Fatal(FrameBytes.Prefix(0xFFFFFFFF), "header_too_large"));
        Add("header length 64 MiB", Fatal(FrameBytes.Prefix(64u * 1024 * 1024), "header_too_large"));
        Add("header length 64 MiB followed by 1 MiB of it", Fatal(FrameBytes.Concat(FrameBytes.Prefix(64u * 1024 * 1024), new byte[MiB]), "header_too_large"));
        Add("truncated length prefix, then close", CutShort(new byte[] { 0x10, 0x00 }));
        Add("truncated header, then close", CutShort(FrameBytes.Frame("""{"cmd":"echo","bodysize":3}""")[..12]));
        Add("header not UTF-8", Answered(FrameBytes.Concat(FrameBytes.Prefix(3), [0x7B, 0xC3, 0x28]), "header_not_utf8"));
        Add("header with an unpaired surrogate", Answered(FrameBytes.Concat(FrameBytes.Prefix(20), Encoding.ASCII.GetBytes("{\"cmd\":\"echo\",\"a\":\""), [0xED]), "header_not_utf8"));
        Add("header not JSON", Answered(FrameBytes.Frame("""{"cmd":"echo","bodysize":"""), "header_not_json"));
        Add("header a JSON array", Answered(FrameBytes.Frame("""["cmd","echo"]"""), "header_not_object"));
        Add("header a JSON string", Answered(FrameBytes.Frame("\"echo\""), "header_not_object"));
        Add("header two JSON objects", Answered(FrameBytes.Frame("""{"cmd":"echo"}{"cmd":"echo"}"""), "header_not_json"));
        Add("JSON arrays nested 10,000 deep", Answered(FrameBytes.Frame(new string('[', 10_000) + new string(']', 10_000)), "header_not_object"));
        Add("JSON arrays nested 10,000 deep in a field", Answered(FrameBytes.Frame("{\"cmd\":\"echo\",\"x\":" + new string('[', 10_000) + new string(']', 10_000) + "}"), "header_not_json"));
        Add("JSON objects nested 10,000 deep", Answered(FrameBytes.Frame(string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000)), "header_not_json"));
        Add("60 KiB string in an unknown field", Accepted($$"""{"cmd":"echo","bodysize":2,"note":"{{new string('x', 60 * 1024)}}"}""", "hi"u8.ToArray(), "HI"));
        Add("60 KiB string left unterminated", Answered(FrameBytes.Frame($$"""{"cmd":"echo","s":"{{new string('x', 60 * 1024)}}"""), "header_not_json"));
        Add("60 KiB command name", Answered(FrameBytes.Frame($$"""{"cmd":"{{new string('c', 60 * 1024)}}"}"""), "command_unknown"));
        Add("60 KiB path", Answered(Json(new { cmd = "put", id = 1, path = new string('p', 60 * 1024), size = 1 }), "path_invalid"));
        Add("60 KiB of escaped characters in a path", Answered(FrameBytes.Frame($$"""{"cmd":"get","id":1,"path":"{{string.Concat(Enumerable.Repeat("\\u0041", 10 * 1024))}}"}"""), "path_invalid"));

        // Fields: missing, of the wrong type, out of range.
        Add("cmd missing", Answered(FrameBytes.Frame("""{"filename":"a"}"""), "command_missing"));
        Add("cmd a number", Answered(FrameBytes.Frame("""{"cmd":42}"""), "command_missing"));
        Add("cmd null", Answered(FrameBytes.Frame("""{"cmd":null}"""), "command_missing"));
        Add("cmd repeated", Answered(FrameBytes.Frame("""{"cmd":"echo","cmd":"put"}"""), "command_missing"));
        Add("cmd unknown, with a 70 KB body", Answered(FrameBytes.WithBody("launch_missiles", new byte[70_000]), "command_unknown"));
        Add("cmd a reply name", Answered(FrameBytes.Frame("""{"cmd":"error","code":"x"}"""), "command_unknown"));
        Add("hello version a string", Answered(FrameBytes.Frame("""{"cmd":"hello","version":"one"}"""), "field_invalid", hello: false));
        Add("hello version missing", Answered(FrameBytes.Frame("""{"cmd":"hello"}"""), "field_invalid", hello: false));
        Add("hello version 99", Answered(FrameBytes.Frame("""{"cmd":"hello","version":99}"""), "version_unsupported", hello: false));
        Add("command before hello", Answered(FrameBytes.WithBody("echo", "x"u8), "hello_required", hello: false));
        Add("second hello", Answered(FrameBytes.Frame("""{"cmd":"hello","version":1}"""), "unexpected_frame"));
        Add("put path missing", Answered(Json(new { cmd = "put", id = 1, size = 3 }), "path_invalid"));
        Add("put path a number", Answered(FrameBytes.Frame("""{"cmd":"put","id":1,"path":7,"size":3}"""), "field_invalid"));
        Add("put id missing", Answered(Json(new { cmd = "put", path = "a.bin", size = 3 }), "field_invalid"));
        Add("put size missing", Answered(Json(new { cmd = "put", id = 1, path = "a.bin" }), "field_invalid"));
        Add("put size negative", Answered(Json(new { cmd = "put", id = 1, path = "a.bin", size = -1 }), "field_invalid"));
        Add("put size a string", Answered(FrameBytes.Frame("""{"cmd":"put","id":1,"path":"a.bin","size":"12"}"""), "field_invalid"));
        Add("put size a fraction", Answered(FrameBytes.Frame("""{"cmd":"put","id":1,"path":"a.bin","size":1.5}"""), "field_invalid"));
        Add("put size overflowing 64 bits", Answered(FrameBytes.Frame("""{"cmd":"put","id":1,"path":"a.bin","size":18446744073709551616}"""), "field_invalid"));
        Add("put size 1e400", Answered(FrameBytes.Frame("""{"cmd":"put","id":1,"path":"a.bin","size":1e400}"""), "field_invalid"));
        // put_data is never answered (protocol.md §5.2): its failure is remembered and reported by put_end.
        Add("put_data for an upload never opened", Answered(FrameBytes.Concat(
            Json(new { cmd = "put_data", id = 99, offset = 0, bodysize = 4 }, "data"u8), Json(new { cmd = "put_end", id = 99, hash = "00" })), "unknown_transfer"));
        Add("put_data at a negative offset", OpenUploadThen(Json(new { cmd = "put_data", id = 1, offset = -5, bodysize = 4 }, "data"u8), "field_invalid"));
        Add("put_data past the declared size", OpenUploadThen(Json(new { cmd = "put_data", id = 1, offset = 999, bodysize = 4 }, "data"u8), "field_invalid"));
        Add("get id a string", Answered(FrameBytes.Frame("""{"cmd":"get","id":"one","path":"a.bin"}"""), "field_invalid"));
        Add("ls recursive a string", Answered(FrameBytes.Frame("""{"cmd":"ls","path":"","recursive":"yes"}"""), "field_invalid"));
        Add("exec argv not an array", Answered(FrameBytes.Frame("""{"cmd":"exec","id":1,"argv":"rm -rf /"}"""), "field_invalid") with
        {
            Configure = o => o with { AllowExec = true },
        });

        // Body sizes: refused before any body is read, so a claim never becomes an allocation.
        Add("bodysize negative", Fatal(FrameBytes.Frame("""{"cmd":"echo","bodysize":-1}"""), "body_size_invalid"));
        Add("bodysize a string", Fatal(FrameBytes.Frame("""{"cmd":"echo","bodysize":"12"}"""), "body_size_invalid"));
        Add("bodysize 1e400", Fatal(FrameBytes.Frame("""{"cmd":"echo","bodysize":1e400}"""), "body_size_invalid"));
        Add("bodysize overflowing 64 bits", Fatal(FrameBytes.Frame("""{"cmd":"echo","bodysize":18446744073709551616}"""), "body_size_invalid"));
        Add("bodysize repeated", Fatal(FrameBytes.Frame("""{"cmd":"echo","bodysize":1,"bodysize":2}"""), "body_size_invalid"));
        Add("classic put with a non-numeric filesize", Fatal(FrameBytes.Frame("""{"cmd":"put","filename":"a","filesize":"x"}"""), "body_size_invalid"));
        Add("echo claiming 2^63-1 bytes", Fatal(FrameBytes.Frame("""{"cmd":"echo","bodysize":9223372036854775807}"""), "body_too_large"));
        Add("echo body shorter than declared, then close", CutShort(FrameBytes.Concat(FrameBytes.Frame("""{"cmd":"echo","bodysize":1000}"""), new byte[10])));
        Add("upload body shorter than declared, then close", new HostileCase(UploadCutShortAsync));
        Add("put claiming 2^62 bytes, 1 MiB sent, then close", new HostileCase(HugeClaimedUploadAsync));

        // Paths: every kind of escape, through every file command (RootJailTests covers each command on its own).
        foreach (var (path, code) in RootJailTests.BadPaths.Select(row => ((string)row[0], (string)row[1])))
            Add($"path {Describe(path)}", new HostileCase(c => PathRefusedAsync(c, path, code)));
        Add("path to the sandbox beside the root", new HostileCase(c => PathRefusedAsync(c, "../outside/secret.txt", "path_escapes_root")));
        Add("path absolute to the sandbox", new HostileCase(c => PathRefusedAsync(c, Path.Combine(c.Outside, "secret.txt"), "path_invalid")));
        Add("symbolic link out of the root", new HostileCase(SymlinkRefusedAsync, LocalOnly: true));

        // Volume and time.
        Add("1 MiB of random garbage", new HostileCase(GarbageAsync));
        Add("1000 idle connections", new HostileCase(IdleConnectionsAsync, Configure: o => o with { LoginGraceTime = TimeSpan.FromSeconds(2) }));
        Add("slow loris: a header byte per second", new HostileCase(SlowLorisAsync, Configure: o => o with { HeaderTimeout = TimeSpan.FromSeconds(2) }));
        Add("flood of 200 failed logins", new HostileCase(FailedLoginFloodAsync, Login: true,
            Configure: o => o with { AuthFailureDelay = TimeSpan.FromMilliseconds(100), AuthFailureWindow = TimeSpan.FromSeconds(3) }));
        return cases;
    }

    /// <summary>A printable row name for a path that may hold control characters or be very long.</summary>
    private static string Describe(string path)
    {
        var escaped = JsonSerializer.Serialize(path)[1..^1];
        return escaped.Length <= 40 ? escaped : $"{escaped[..20]}… ({path.Length} chars)";
    }

    /// <summary>
    /// After a hello, the frame gets a fatal error and the server closes the connection. The server may close before
    /// taking the whole frame: then the send fails, and the reset may also take the error frame with it.
    /// </summary>
    private static HostileCase Fatal(byte[] frame, string code) => new(async c =>
    {
        await using var raw = await HelloAsync(c.Server);
        var delivered = await raw.SendMayBeRefusedAsync(frame);
        var error = await raw.ReadErrorOrClosedAsync();
        if (error is null)
            Assert.False(delivered, "The server closed without an error frame although it took the whole frame.");
        else
            Assert.Equal((code, true), error.Value);
        Assert.True(await raw.IsClosedByPeerAsync());
    });

    /// <summary>
    /// The frame gets a non-fatal error, and the same connection still works: its framing survived.
    /// </summary>
    private static HostileCase Answered(byte[] frame, string code, bool hello = true) => new(async c =>
    {
        await using var raw = hello ? await HelloAsync(c.Server) : await c.Server.ConnectRawAsync();
        await raw.SendAsync(frame);
        Assert.Equal((code, false), await raw.ReadErrorAsync());
        await AssertConnectionStillWorksAsync(raw, hello);
    });

    /// <summary>A well-formed request with an oversized but harmless field is served normally.</summary>
    private static HostileCase Accepted(string header, byte[] body, string reply) => new(async c =>
    {
        await using var raw = await HelloAsync(c.Server);
        await raw.SendAsync(FrameBytes.Frame(header, body));
        Assert.Equal(reply, Encoding.UTF8.GetString((await raw.ReadAsync())!.Body));
    });

    /// <summary>With an upload open, the frame makes it fail: put_end reports the error, nothing is kept, the connection survives.</summary>
    private static HostileCase OpenUploadThen(byte[] frame, string code) => new(async c =>
    {
        await using var raw = await HelloAsync(c.Server);
        await raw.SendAsync(Json(new { cmd = "put", id = 1, path = "open.bin", size = 10 }));
        Assert.Equal("put_ready", (await raw.ReadAsync())!.Command);
        await raw.SendAsync(FrameBytes.Concat(frame, Json(new { cmd = "put_end", id = 1, hash = "00" })));
        Assert.Equal((code, false), await raw.ReadErrorAsync());
        await AssertConnectionStillWorksAsync(raw, helloDone: true);
        Assert.DoesNotContain("open.bin", await c.StoredNamesAsync());
    });

    /// <summary>The bytes stop partway through a frame and the client closes: the server just closes too.</summary>
    private static HostileCase CutShort(byte[] bytes) => new(async c =>
    {
        await using var raw = await HelloAsync(c.Server);
        await raw.SendAsync(bytes);
        raw.Socket.Shutdown(SocketShutdown.Send);
        Assert.True(await raw.IsClosedByPeerAsync());
    });

    private static async Task AssertConnectionStillWorksAsync(RawConnection raw, bool helloDone)
    {
        if (!helloDone)
        {
            await raw.SendHelloAsync();
            Assert.Equal("hello", (await raw.ReadAsync())!.Command);
        }
        await raw.SendAsync(FrameBytes.WithBody("echo", "still here"u8));
        Assert.Equal("STILL HERE", Encoding.UTF8.GetString((await raw.ReadAsync())!.Body));
    }

    /// <summary>An upload that declares 4 MiB, sends 1 MiB and disconnects leaves no file under its name.</summary>
    private static async Task UploadCutShortAsync(HostileContext c)
    {
        await using (var raw = await HelloAsync(c.Server))
        {
            await raw.SendAsync(Json(new { cmd = "put", id = 1, path = "cut.bin", size = 4 * MiB }));
            Assert.Equal("put_ready", (await raw.ReadAsync())!.Command);
            await raw.SendAsync(FrameBytes.Concat(Json(new { cmd = "put_data", id = 1, offset = 0, bodysize = 4 * MiB }), new byte[MiB]));
        }
        await HostTests.WaitUntilAsync(() => c.Server.Server.ConnectionCount == 0);
        Assert.DoesNotContain("cut.bin", await c.StoredNamesAsync());
        await using var client = await c.ConnectAsync();
        Assert.DoesNotContain("cut.bin", (await client.ListAsync("", cancellationToken: TestTimeouts.Token())).Select(e => e.Name));
    }

    /// <summary>
    /// An upload may claim any size: nothing is reserved or allocated for the claim, only what arrives is stored, and a
    /// disconnect leaves nothing under the name.
    /// </summary>
    private static async Task HugeClaimedUploadAsync(HostileContext c)
    {
        await using (var raw = await HelloAsync(c.Server))
        {
            await raw.SendAsync(Json(new { cmd = "put", id = 1, path = "huge.bin", size = 1L << 62 }));
            Assert.Equal("put_ready", (await raw.ReadAsync())!.Command);
            await raw.SendAsync(FrameBytes.Concat(Json(new { cmd = "put_data", id = 1, offset = 0, bodysize = MiB }), new byte[MiB]));
        }
        await HostTests.WaitUntilAsync(() => c.Server.Server.ConnectionCount == 0);
        Assert.DoesNotContain("huge.bin", await c.StoredNamesAsync());
    }

    /// <summary>Every file command refuses the path with <paramref name="code"/>, on a connection that stays usable.</summary>
    private static async Task PathRefusedAsync(HostileContext c, string path, string code)
    {
        await c.PutTextAsync("x", "x");
        await using var raw = await HelloAsync(c.Server);
        foreach (var request in RootJailTests.RequestsNaming(path))
        {
            await raw.SendAsync(Json(request));
            Assert.Equal((code, false), await raw.ReadErrorAsync());
        }
        await AssertConnectionStillWorksAsync(raw, helloDone: true);
    }

    private static async Task SymlinkRefusedAsync(HostileContext c)
    {
        Directory.CreateSymbolicLink(Path.Combine(c.Server.Root, "out"), c.Outside);
        await using var raw = await HelloAsync(c.Server);
        foreach (var request in new object[]
        {
            new { cmd = "get", id = 1, path = "out/secret.txt" },
            new { cmd = "put", id = 1, path = "out/new.txt", size = 1 },
            new { cmd = "ls", path = "out" },
            new { cmd = "rm", path = "out/secret.txt" },
            new { cmd = "mv", from = "out/secret.txt", to = "stolen.txt" },
        })
        {
            await raw.SendAsync(Json(request));
            Assert.Equal(("path_escapes_root", false), await raw.ReadErrorAsync());
        }
        File.Delete(Path.Combine(c.Server.Root, "out"));
    }

    private static async Task GarbageAsync(HostileContext c)
    {
        var garbage = new byte[MiB];
        new Random(42).NextBytes(garbage);
        await using var raw = await c.Server.ConnectRawAsync();
        try
        {
            await raw.SendAsync(garbage);
        }
        catch (SocketException)
        {
            // The server may close while the garbage is still arriving.
        }
        Assert.True(await raw.IsClosedByPeerAsync());
    }

    /// <summary>
    /// 1000 connections that send nothing. None of them logs in, so past the unauthenticated budget of their address
    /// each newcomer sheds the idlest one that has sat for a second (it gets server_busy), or, while none has, is
    /// refused once the address holds its 256. A client from another address is served meanwhile, and the login grace
    /// time (2 s here) then closes the ones still held.
    /// </summary>
    private static async Task IdleConnectionsAsync(HostileContext c)
    {
        var held = c.Server.Options.MaxConnectionsPerAddress;
        var idle = new List<RawConnection>();
        try
        {
            for (var i = 0; i < 1000; i++)
                idle.Add(await c.Server.ConnectRawAsync());
            await HostTests.WaitUntilAsync(() => c.Server.Server.ConnectionCount <= held);

            await using (var other = await RawConnection.ConnectAsync(c.Server.EndPoint, IPAddress.Parse("127.0.0.2")))
            {
                await other.SendHelloAsync();
                Assert.Equal("hello", (await other.ReadAsync())!.Command);
                await other.SendAsync(FrameBytes.WithBody("echo", "other"u8));
                Assert.Equal("OTHER", Encoding.UTF8.GetString((await other.ReadAsync())!.Body));
            }

            var watch = Stopwatch.StartNew();
            var outcomes = await Task.WhenAll(idle.Select(async raw =>
            {
                var frame = await raw.ReadAsync();
                return frame is null ? "closed" : JsonDocument.Parse(frame.Json).RootElement.GetProperty("code").GetString()!;
            }));
            // A connection shed before its serving task ran is closed without a frame; all the others are told why.
            Assert.All(outcomes, o => Assert.Contains(o, new[] { "server_busy", "too_many_connections", "login_timeout", "closed" }));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"idle connections closed after {watch.Elapsed}");
        }
        finally
        {
            foreach (var raw in idle)
                await raw.DisposeAsync();
        }
    }

    /// <summary>A valid hello sent one byte a second: the header timeout (2 s here) ends it long before it completes.</summary>
    private static async Task SlowLorisAsync(HostileContext c)
    {
        await using var raw = await c.Server.ConnectRawAsync();
        var hello = FrameBytes.Frame("""{"cmd":"hello","version":1,"agent":"slow-loris"}""");
        var reply = raw.ReadErrorAsync();
        var watch = Stopwatch.StartNew();
        var sent = 0;
        while (!reply.IsCompleted && sent < hello.Length)
        {
            try
            {
                await raw.SendAsync(hello.AsMemory(sent, 1));
            }
            catch (SocketException)
            {
                break;
            }
            sent++;
            await Task.WhenAny(reply, Task.Delay(TimeSpan.FromSeconds(1)));
        }
        Assert.Equal(("header_timeout", true), await reply);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(6));
        Assert.True(sent < hello.Length, "the whole header got through");
        Assert.True(await raw.IsClosedByPeerAsync());
    }

    /// <summary>
    /// 200 logins with wrong keys, 20 at a time: after the first few the address is throttled, and even the right key
    /// is refused until the failure window (3 s here) has passed; then the right key works again.
    /// </summary>
    private static async Task FailedLoginFloodAsync(HostileContext c)
    {
        var codes = new System.Collections.Concurrent.ConcurrentBag<FerryErrorCode>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 200), new ParallelOptions { MaxDegreeOfParallelism = 20 }, async (_, _) =>
        {
            var error = await Assert.ThrowsAsync<FerryRemoteException>(() => c.ConnectAsync(new ClientCredentials("alice", Handshake.NewKey())));
            codes.Add(error.Code);
        });
        Assert.All(codes, code => Assert.Contains(code, new[] { FerryErrorCode.AuthenticationFailed, FerryErrorCode.AuthenticationThrottled }));
        Assert.True(codes.Count(code => code == FerryErrorCode.AuthenticationThrottled) >= 150, "the flood was not throttled");

        var throttled = await Assert.ThrowsAsync<FerryRemoteException>(() => c.ConnectAsync());
        Assert.Equal(FerryErrorCode.AuthenticationThrottled, throttled.Code);
        await Task.Delay(c.Server.Options.AuthFailureWindow + TimeSpan.FromMilliseconds(200));
        await using var client = await c.ConnectAsync();
        Assert.Equal("alice", client.User);
    }
}

/// <summary>Tests that measure process-wide allocation run alone.</summary>
[CollectionDefinition(nameof(MemorySensitive), DisableParallelization = true)]
public sealed class MemorySensitive;
