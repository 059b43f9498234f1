using System.Text.Json.Serialization.Metadata;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Client;

// The plumbing every command shares: the one reply reader, the one rule for when the connection is broken, a send loop
// and a receive loop run at once for pipelining (docs/protocol.md §5), and transfer ids.
public sealed partial class FerryClient
{
    private long _nextTransferId;
    private volatile bool _broken;

    /// <summary>
    /// True once the connection can no longer be used: the server sent a fatal error or closed, a frame was cut short
    /// (I/O error, cancellation mid-transfer), or the server broke the protocol. Every later call throws.
    /// </summary>
    public bool IsBroken => _broken;

    /// <summary>
    /// Reads the next reply. The one rule (docs/protocol.md §2.4): a non-fatal error frame becomes
    /// <see cref="FerryRemoteException"/> and leaves the connection usable; anything else that is not
    /// <paramref name="expected"/> — a fatal error frame, a clean close, another frame, a frame that does not parse, an I/O
    /// failure or a cancellation while waiting — marks the connection broken.
    /// </summary>
    internal ValueTask<FrameHeader> ReadReplyAsync(string expected, CancellationToken cancellationToken) =>
        ReadReplyAsync(expected, expected, cancellationToken);

    /// <summary><see cref="ReadReplyAsync(string, CancellationToken)"/> for a reply that may be either of two frames.</summary>
    internal async ValueTask<FrameHeader> ReadReplyAsync(string expected, string alternative, CancellationToken cancellationToken)
    {
        try
        {
            var header = await _reader.ReadFrameAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new FerryProtocolException(FerryErrorCode.TruncatedFrame, "The server closed the connection without answering.", isFatal: true);
            if (header.Command == CommandNames.Error)
            {
                var error = header.Deserialize(FerryJsonContext.Default.ErrorMessage);
                throw error.Fatal ? Break(error.ToException()) : error.ToException();
            }
            if (header.Command != expected && header.Command != alternative)
                throw new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                    $"Expected a '{expected}' frame from the server but got '{header.Command}'.", isFatal: true);
            return header;
        }
        catch (Exception ex) when (ex is not FerryRemoteException)
        {
            throw Break(ex);
        }
    }

    /// <summary><see cref="ReadReplyAsync(string, CancellationToken)"/> and the reply's header fields.</summary>
    internal async ValueTask<T> ReadReplyAsync<T>(string expected, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        var header = await ReadReplyAsync(expected, cancellationToken).ConfigureAwait(false);
        return header.Deserialize(typeInfo);
    }

    /// <summary>Reads the current reply's whole body into a new array (bodies the caller has already bounded).</summary>
    internal async ValueTask<byte[]> ReadBodyBytesAsync(long length, CancellationToken cancellationToken)
    {
        var bytes = new byte[length];
        for (var filled = 0; filled < bytes.Length;)
            filled += await _reader.ReadBodyAsync(bytes.AsMemory(filled), cancellationToken).ConfigureAwait(false);
        return bytes;
    }

    /// <summary>
    /// Runs one request/reply exchange. A failure that leaves the stream out of step (anything but a non-fatal error
    /// frame, or a reply refused as non-fatal after it was read whole) marks the connection broken.
    /// </summary>
    private async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> exchange, CancellationToken cancellationToken)
    {
        EnsureUsable();
        try
        {
            return await exchange(cancellationToken).ConfigureAwait(false);
        }
        catch (FerryException ex) when (!_broken && ex is FerryRemoteException or FerryProtocolException { IsFatal: false })
        {
            throw;
        }
        catch (Exception ex)
        {
            throw Break(ex);
        }
    }

    private void EnsureUsable()
    {
        if (_broken)
            throw new InvalidOperationException("This connection is no longer usable after an earlier failure; connect again.");
    }

    /// <summary>Marks the connection unusable and returns <paramref name="error"/> for <c>throw</c>.</summary>
    internal Exception Break(Exception error)
    {
        _broken = true;
        return error;
    }

    /// <summary>
    /// Runs a send loop and a receive loop at once, so that neither side of the connection waits for the other (a
    /// pipelined batch whose replies are not read while requests are written can fill both TCP buffers and stall). The
    /// first loop to fail cancels the other; its exception is the one thrown, and the connection is then broken.
    /// </summary>
    private async Task RunDuplexAsync(Func<CancellationToken, Task> send, Func<CancellationToken, Task> receive, CancellationToken cancellationToken)
    {
        EnsureUsable();
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Exception? first = null;

        async Task Guard(Func<CancellationToken, Task> loop)
        {
            try
            {
                await loop(failed.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Keep the cause, not the cancellation it caused in the other loop.
                if (ex is not OperationCanceledException || !failed.IsCancellationRequested || cancellationToken.IsCancellationRequested)
                    Interlocked.CompareExchange(ref first, ex, null);
                Break(ex);
                await failed.CancelAsync().ConfigureAwait(false);
            }
        }

        await Task.WhenAll(Task.Run(() => Guard(send), CancellationToken.None), Guard(receive)).ConfigureAwait(false);
        if (first is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
        if (_broken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new OperationCanceledException("The transfer was cancelled.");
        }
    }

    private long NextTransferId() => Interlocked.Increment(ref _nextTransferId);
}
