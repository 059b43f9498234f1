using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace Ferry.Server.Connections;

/// <summary>
/// One accepted connection: its socket, the duplex pipe over it and its lifetime. <see cref="Abort"/> is first-cause-wins:
/// the first reason given is the one reported.
/// </summary>
public sealed class FerryConnection : IAsyncDisposable
{
    private static long s_nextId;
    private readonly CancellationTokenSource _closed = new();
    private string? _abortReason;

    internal FerryConnection(string id, Socket socket, Stream transport, int bufferSize, byte[] channelBinding)
    {
        Socket = socket;
        Id = id;
        RemoteEndPoint = socket.RemoteEndPoint;
        LocalEndPoint = socket.LocalEndPoint;
        Stream = transport;
        IsTls = transport is System.Net.Security.SslStream;
        CanSendFile = !IsTls;
        ChannelBinding = channelBinding;
        // Zero-byte reads: an idle connection holds no receive buffer until data arrives (SslStream releases its own too).
        Input = PipeReader.Create(Stream, new StreamPipeReaderOptions(bufferSize: bufferSize, minimumReadSize: 4096, leaveOpen: true, useZeroByteReads: true));
        Output = PipeWriter.Create(Stream, new StreamPipeWriterOptions(minimumBufferSize: bufferSize, leaveOpen: true));
    }

    /// <summary>A new connection id.</summary>
    internal static string NextId() => $"c{Interlocked.Increment(ref s_nextId):x}";

    /// <summary>True when the bytes travel inside TLS.</summary>
    public bool IsTls { get; }

    /// <summary>What the login transcript binds to: SHA-256 of the server certificate on TLS, empty on plain TCP.</summary>
    public byte[] ChannelBinding { get; }

    /// <summary>The client's IP address.</summary>
    public IPAddress RemoteAddress => (RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;

    /// <summary>Short id that appears on every log line of this connection.</summary>
    public string Id { get; }

    public EndPoint? RemoteEndPoint { get; }
    public EndPoint? LocalEndPoint { get; }

    /// <summary>True while the bytes go straight onto <see cref="Socket"/> (plain TCP), so sendfile may bypass the pipe.</summary>
    public bool CanSendFile { get; internal set; }

    /// <summary>The raw socket, for zero-copy sends on plain TCP. Flush <see cref="Output"/> before using it.</summary>
    public Socket Socket { get; }

    internal Stream Stream { get; }
    public PipeReader Input { get; }
    public PipeWriter Output { get; }

    /// <summary>Cancelled when the connection is aborted.</summary>
    public CancellationToken ConnectionClosed => _closed.Token;

    /// <summary>Its place in the connection limits (login grace time, unauthenticated budget); null for a refused connection.</summary>
    internal ConnectionTicket? Ticket { get; init; }

    /// <summary>Why the connection was aborted, if it was.</summary>
    public string? AbortReason => _abortReason;

    /// <summary>Closes the connection at once; in-flight reads and writes fail.</summary>
    public void Abort(string reason)
    {
        if (Interlocked.CompareExchange(ref _abortReason, reason, null) is not null)
            return;
        try { _closed.Cancel(); } catch (ObjectDisposedException) { }
        try { Socket.Shutdown(SocketShutdown.Both); } catch (Exception ex) when (ex is SocketException or ObjectDisposedException) { }
        Socket.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await Input.CompleteAsync().ConfigureAwait(false);
        try
        {
            await Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
        {
            // The peer is gone; whatever was unsent is moot.
        }
        await Stream.DisposeAsync().ConfigureAwait(false);
        _closed.Dispose();
    }
}
