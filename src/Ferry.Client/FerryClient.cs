using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text.Json.Serialization.Metadata;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Client;

/// <summary>
/// A connection to a Ferry server. Created by <see cref="ConnectAsync"/>, which also exchanges hellos.
/// One command at a time per client (commands are answered in order); open several clients for parallel work.
/// </summary>
public sealed partial class FerryClient : IAsyncDisposable
{
    private const int TransportBufferSize = 256 * 1024;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly FrameReader _reader;
    private readonly FrameWriter _writer;

    private FerryClient(Socket socket, FerryClientOptions options)
    {
        _socket = socket;
        Options = options;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: TransportBufferSize, minimumReadSize: 16 * 1024, leaveOpen: true));
        _output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: TransportBufferSize, leaveOpen: true));
        _reader = new FrameReader(_input, options.Frames);
        _writer = new FrameWriter(_output, options.Frames);
    }

    public FerryClientOptions Options { get; }

    /// <summary>The server's hello: its protocol version and features.</summary>
    public HelloMessage ServerHello { get; private set; } = null!;

    /// <summary>Whether the server announced <paramref name="feature"/>.</summary>
    public bool ServerSupports(string feature) => ServerHello.Features?.Contains(feature) == true;

    /// <summary>
    /// Connects and exchanges hellos. Throws <see cref="SocketException"/> when the server cannot be reached,
    /// <see cref="FerryRemoteException"/> when it refuses (busy, version), <see cref="TimeoutException"/> past
    /// <see cref="FerryClientOptions.ConnectTimeout"/>.
    /// </summary>
    public static async Task<FerryClient> ConnectAsync(ServerAddress address, FerryClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new FerryClientOptions();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        FerryClient? client = null;
        try
        {
            await socket.ConnectAsync(address.Host, address.Port, timeout.Token).ConfigureAwait(false);
            client = new FerryClient(socket, options);
            client._writer.WriteHeader(new HelloMessage
            {
                Version = ProtocolVersion.Current,
                Features = ["echo", "put", "get"],
                Agent = options.Agent,
            }, FerryJsonContext.Default.HelloMessage);
            await client._writer.FlushAsync(timeout.Token).ConfigureAwait(false);
            client.ServerHello = await client.ReadReplyAsync(CommandNames.Hello, FerryJsonContext.Default.HelloMessage, timeout.Token).ConfigureAwait(false);
            return client;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            await DisposeQuietlyAsync(client, socket).ConfigureAwait(false);
            throw new TimeoutException($"No answer from {address} within {options.ConnectTimeout.TotalSeconds:0.#} s.");
        }
        catch
        {
            await DisposeQuietlyAsync(client, socket).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Sends <paramref name="data"/> as an echo body and returns the server's reply (ASCII upper-cased).</summary>
    public async Task<byte[]> EchoAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        _writer.WriteHeader(new EchoMessage { BodySize = data.Length }, FerryJsonContext.Default.EchoMessage, data.Length);
        // Send and receive at once: the server streams its reply while the body is still arriving.
        var send = SendBodyAsync(data, cancellationToken);
        try
        {
            var header = await ReadReplyHeaderAsync(CommandNames.Echo, cancellationToken).ConfigureAwait(false);
            if (header.BodyLength != data.Length)
                throw new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                    $"The server answered an echo of {data.Length} bytes with {header.BodyLength} bytes.", isFatal: true);
            var reply = new byte[header.BodyLength];
            var filled = 0;
            while (filled < reply.Length)
                filled += await _reader.ReadBodyAsync(reply.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            await send.ConfigureAwait(false);
            return reply;
        }
        catch
        {
            // The server may refuse before reading the whole body; the send then fails too and is not the story.
            await send.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw;
        }
    }

    private async Task SendBodyAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        const int Chunk = 64 * 1024;
        for (var offset = 0; offset < data.Length; offset += Chunk)
            await _writer.WriteBodyAsync(data.Slice(offset, Math.Min(Chunk, data.Length - offset)), cancellationToken).ConfigureAwait(false);
        await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Says goodbye and waits for the server's ok.</summary>
    public async Task ByeAsync(CancellationToken cancellationToken = default)
    {
        _writer.WriteHeader(new ByeMessage(), FerryJsonContext.Default.ByeMessage);
        await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        await ReadReplyAsync(CommandNames.Ok, FerryJsonContext.Default.OkMessage, cancellationToken).ConfigureAwait(false);
    }

    internal FrameReader Reader => _reader;
    internal FrameWriter Writer => _writer;
    internal Socket Socket => _socket;

    /// <summary>Reads the next frame; an error frame becomes <see cref="FerryRemoteException"/>, any other unexpected frame a protocol error.</summary>
    internal async ValueTask<FrameHeader> ReadReplyHeaderAsync(string expected, CancellationToken cancellationToken)
    {
        var header = await _reader.ReadFrameAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new FerryProtocolException(FerryErrorCode.TruncatedFrame, "The server closed the connection without answering.", isFatal: true);
        if (ReferenceEquals(header.Command, CommandNames.Error) || header.Command == CommandNames.Error)
        {
            var error = header.Deserialize(FerryJsonContext.Default.ErrorMessage);
            throw new FerryRemoteException(FerryErrorCodes.FromWire(error.Code), error.Code, error.Message);
        }
        if (header.Command != expected)
            throw new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                $"Expected a '{expected}' frame from the server but got '{header.Command}'.", isFatal: true);
        return header;
    }

    internal async ValueTask<T> ReadReplyAsync<T>(string expected, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        var header = await ReadReplyHeaderAsync(expected, cancellationToken).ConfigureAwait(false);
        return header.Deserialize(typeInfo);
    }

    private static async ValueTask DisposeQuietlyAsync(FerryClient? client, Socket socket)
    {
        if (client is not null)
            await client.DisposeAsync().ConfigureAwait(false);
        else
            socket.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _writer.Dispose();
        await _input.CompleteAsync().ConfigureAwait(false);
        try
        {
            await _output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}
