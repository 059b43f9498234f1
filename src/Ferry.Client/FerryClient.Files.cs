using System.Text.Json;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Client;

// File management (docs/protocol.md §5.5) and the plumbing the transfers share: reading replies that may be error
// frames, marking the connection broken, and running a send loop and a receive loop at once for pipelining (§5).
public sealed partial class FerryClient
{
    /// <summary>Largest listing body accepted (a JSON array of entries). About 4 million entries.</summary>
    public const long MaxListingBytes = 512L * 1024 * 1024;

    private long _nextTransferId;
    private volatile bool _broken;

    /// <summary>
    /// True once the connection can no longer be used: the server sent a fatal error or closed, a frame was cut short
    /// (I/O error, cancellation mid-transfer), or the server broke the protocol. Every later call throws.
    /// </summary>
    public bool IsBroken => _broken;

    /// <summary>
    /// Lists a directory, or the one entry of a file (§5.5). With <paramref name="recursive"/> every entry below
    /// <paramref name="path"/>, named relative to it, directories before their contents. Sorted by name (ordinal).
    /// Throws <see cref="FerryRemoteException"/> (<c>not_found</c>, <c>path_*</c>) or, for a malformed path,
    /// <see cref="FerryException"/> before anything is sent.
    /// </summary>
    public async Task<IReadOnlyList<FileEntry>> ListAsync(string path, bool recursive = false, CancellationToken cancellationToken = default)
    {
        var normalized = RemotePath.Normalize(path);
        return await RunAsync(async ct =>
        {
            _writer.WriteHeader(new ListMessage { Path = normalized, Recursive = recursive }, FerryJsonContext.Default.ListMessage);
            await _writer.FlushAsync(ct).ConfigureAwait(false);
            var header = await ReadFileReplyAsync(CommandNames.Listing, ct).ConfigureAwait(false);
            if (header.BodyLength > MaxListingBytes)
                throw Break(new FerryProtocolException(FerryErrorCode.BodyTooLarge,
                    $"The listing of '{normalized}' is {header.BodyLength} bytes, more than this client accepts ({MaxListingBytes}).", isFatal: true));
            if (header.BodyLength == 0)
                return [];
            try
            {
                var entries = await JsonSerializer.DeserializeAsync(_reader.OpenBodyStream(), FerryJsonContext.Default.ListFileEntry, ct).ConfigureAwait(false);
                return (IReadOnlyList<FileEntry>?)entries ?? [];
            }
            catch (JsonException ex)
            {
                throw Break(new FerryProtocolException(FerryErrorCode.FieldInvalid, $"The server sent a listing that is not a JSON array of entries: {ex.Message}", isFatal: true, ex));
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One entry's type, size and modification time. Throws <see cref="FerryRemoteException"/> with <c>not_found</c> when absent.</summary>
    public async Task<FileEntry> StatAsync(string path, CancellationToken cancellationToken = default)
    {
        var normalized = RemotePath.Normalize(path);
        return await RunAsync(async ct =>
        {
            _writer.WriteHeader(new StatMessage { Path = normalized }, FerryJsonContext.Default.StatMessage);
            await _writer.FlushAsync(ct).ConfigureAwait(false);
            var header = await ReadFileReplyAsync(CommandNames.StatResult, ct).ConfigureAwait(false);
            var reply = header.Deserialize(FerryJsonContext.Default.StatResultMessage);
            return reply.Entry ?? throw Break(new FerryProtocolException(FerryErrorCode.FieldInvalid, "The server's stat_result has no entry.", isFatal: true));
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Creates a directory. Without <paramref name="parents"/>: <c>already_exists</c> if it exists, <c>not_found</c> if its
    /// parent does not. With it (mkdir -p): creates what is missing and accepts an existing directory.
    /// </summary>
    public Task MkdirAsync(string path, bool parents = false, CancellationToken cancellationToken = default)
    {
        var normalized = RemotePath.Normalize(path);
        return SimpleAsync(w => w.WriteHeader(new MkdirMessage { Path = normalized, Parents = parents }, FerryJsonContext.Default.MkdirMessage), cancellationToken);
    }

    /// <summary>Removes a file or an empty directory (<c>directory_not_empty</c> otherwise); a whole tree with <paramref name="recursive"/>.</summary>
    public Task RemoveAsync(string path, bool recursive = false, CancellationToken cancellationToken = default)
    {
        var normalized = RemotePath.Normalize(path);
        return SimpleAsync(w => w.WriteHeader(new RemoveMessage { Path = normalized, Recursive = recursive }, FerryJsonContext.Default.RemoveMessage), cancellationToken);
    }

    /// <summary>Renames or moves; <c>already_exists</c> when <paramref name="to"/> exists, unless <paramref name="force"/> and it is a file.</summary>
    public Task MoveAsync(string from, string to, bool force = false, CancellationToken cancellationToken = default)
    {
        var source = RemotePath.Normalize(from);
        var target = RemotePath.Normalize(to);
        return SimpleAsync(w => w.WriteHeader(new MoveMessage { From = source, To = target, Force = force }, FerryJsonContext.Default.MoveMessage), cancellationToken);
    }

    private Task SimpleAsync(Action<FrameWriter> write, CancellationToken cancellationToken) => RunAsync(async ct =>
    {
        write(_writer);
        await _writer.FlushAsync(ct).ConfigureAwait(false);
        await ReadFileReplyAsync(CommandNames.Ok, ct).ConfigureAwait(false);
        return true;
    }, cancellationToken);

    /// <summary>
    /// Runs one request/reply exchange. A failure that leaves the stream out of step (anything but a non-fatal error
    /// frame) marks the connection broken.
    /// </summary>
    private async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> exchange, CancellationToken cancellationToken)
    {
        EnsureUsable();
        try
        {
            return await exchange(cancellationToken).ConfigureAwait(false);
        }
        catch (FerryRemoteException) when (!_broken)
        {
            throw;
        }
        catch
        {
            _broken = true;
            throw;
        }
    }

    private void EnsureUsable()
    {
        if (_broken)
            throw new InvalidOperationException("This connection is no longer usable after an earlier failure; connect again.");
    }

    /// <summary>Marks the connection unusable and returns <paramref name="error"/> for <c>throw</c>.</summary>
    private Exception Break(Exception error)
    {
        _broken = true;
        return error;
    }

    /// <summary>
    /// Reads the next reply. An error frame becomes <see cref="FerryRemoteException"/> (and marks the connection broken
    /// when the server flagged it fatal); a clean close or any frame other than <paramref name="expected"/> is a fatal
    /// protocol error.
    /// </summary>
    private async ValueTask<FrameHeader> ReadFileReplyAsync(string expected, CancellationToken cancellationToken)
    {
        var header = await _reader.ReadFrameAsync(cancellationToken).ConfigureAwait(false)
            ?? throw Break(new FerryProtocolException(FerryErrorCode.TruncatedFrame, "The server closed the connection without answering.", isFatal: true));
        if (header.Command == CommandNames.Error)
        {
            var error = header.Deserialize(FerryJsonContext.Default.ErrorMessage);
            var remote = new FerryRemoteException(FerryErrorCodes.FromWire(error.Code), error.Code, error.Message);
            throw error.Fatal ? Break(remote) : remote;
        }
        if (header.Command != expected)
            throw Break(new FerryProtocolException(FerryErrorCode.UnexpectedFrame,
                $"Expected a '{expected}' frame from the server but got '{header.Command}'.", isFatal: true));
        return header;
    }

    /// <summary>
    /// Runs a send loop and a receive loop at once, so that neither side of the connection waits for the other (a
    /// pipelined batch whose replies are not read while requests are written can fill both TCP buffers and stall). The
    /// first loop to fail cancels the other; its exception is the one thrown, and the connection is then broken.
    /// </summary>
    private async Task RunDuplexAsync(Func<CancellationToken, Task> send, Func<CancellationToken, Task> receive, CancellationToken cancellationToken)
    {
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
                _broken = true;
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
