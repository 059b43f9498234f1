using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Ferry.Client.Security;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Testing;

namespace Ferry.IntegrationTests.Sync;

/// <summary>
/// A raw peer for the sync commands (docs/protocol.md §5.9): it sends any header and body it is given, with frame MACs
/// after a login, and reads replies with Ferry's frame reader.
/// </summary>
internal sealed class SyncPeer : IAsyncDisposable
{
    private readonly RawConnection _raw;
    private readonly FrameWriter? _writer;
    private readonly Pipe? _pipe;

    private SyncPeer(RawConnection raw, FrameWriter? writer, Pipe? pipe)
    {
        _raw = raw;
        _writer = writer;
        _pipe = pipe;
    }

    /// <summary>Connects to a server without logins and says hello.</summary>
    public static async Task<SyncPeer> ConnectAsync(TestServer server)
    {
        var raw = await server.ConnectRawAsync();
        await raw.SendHelloAsync();
        var hello = await raw.ReadAsync();
        Assert.Equal("hello", hello!.Command);
        return new SyncPeer(raw, null, null) { Features = JsonSerializer.Deserialize(hello.Json, FerryJsonContext.Default.HelloMessage)!.Features ?? [] };
    }

    /// <summary>Logs in on plain TCP (hello, auth, auth_ok); later frames carry MACs both ways.</summary>
    public static async Task<SyncPeer> LoginAsync(TestServer server, string user, byte[] key)
    {
        var raw = await server.ConnectRawAsync();
        await raw.SendHelloAsync();
        var hello = JsonSerializer.Deserialize((await raw.ReadAsync())!.Json, FerryJsonContext.Default.HelloMessage)!;
        var clientChallenge = Handshake.NewChallenge();
        var transcript = Handshake.Transcript(1, hello.Challenge!, clientChallenge, user, []);
        await raw.SendAsync(FrameBytes.Frame(JsonSerializer.Serialize(
            new AuthMessage { User = user, Challenge = clientChallenge, Proof = Handshake.ClientProof(key, transcript) }, FerryJsonContext.Default.AuthMessage)));
        Assert.Equal("auth_ok", (await raw.ReadAsync())!.Command);
        var (clientToServer, serverToClient) = Handshake.SessionKeys(key, transcript);
        raw.Reader.EnableMac(serverToClient);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var writer = new FrameWriter(pipe.Writer);
        writer.EnableMac(clientToServer);
        return new SyncPeer(raw, writer, pipe) { Features = hello.Features ?? [] };
    }

    public IReadOnlyList<string> Features { get; private init; } = [];

    public async Task SendAsync(object header, ReadOnlyMemory<byte> body = default)
    {
        var json = JsonSerializer.Serialize(header);
        if (_writer is null)
        {
            await _raw.SendAsync(FrameBytes.Frame(json, body.Span));
            return;
        }
        _writer.WriteHeader(new RawHeader(System.Text.Encoding.UTF8.GetBytes(json)), RawHeader.TypeInfo, body.Length);
        if (body.Length > 0)
            _writer.WriteBody(body.Span);
        await _writer.FlushAsync(CancellationToken.None);
        var bytes = (await _pipe!.Reader.ReadAsync()).Buffer;
        await _raw.SendAsync(bytes.ToArray());
        _pipe.Reader.AdvanceTo(bytes.End);
    }

    public async Task<ReceivedFrame> ReadAsync() => await _raw.ReadAsync() ?? throw new InvalidOperationException("The server closed the connection.");

    /// <summary>The next frame's command, or its error code when it is an error.</summary>
    public async Task<string> ReadCodeAsync()
    {
        var frame = await ReadAsync();
        return frame.Command == "error" ? JsonDocument.Parse(frame.Json).RootElement.GetProperty("code").GetString()! : frame.Command;
    }

    /// <summary>Sends a command and returns the reply's command or error code.</summary>
    public async Task<string> AskAsync(object header, ReadOnlyMemory<byte> body = default)
    {
        await SendAsync(header, body);
        return await ReadCodeAsync();
    }

    public ValueTask DisposeAsync() => _raw.DisposeAsync();

    /// <summary>Any JSON object as a header through a FrameWriter (so it gets a MAC).</summary>
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
