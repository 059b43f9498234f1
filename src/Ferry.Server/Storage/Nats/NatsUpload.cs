using System.Buffers;
using System.IO.Pipelines;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using NATS.Client.Core;
using NATS.Client.ObjectStore;
using NATS.Client.ObjectStore.Models;

namespace Ferry.Server.Storage.Nats;

/// <summary>
/// A file on its way into the NATS store: its bytes stream, in order, into a new object under a fresh name while they
/// arrive (through a bounded pipe, so a fast client waits for the cluster instead of filling memory); the commit checks
/// the whole-file checksum and only then points the file's name at the object. Until then nothing is visible; an
/// abandoned object is deleted here, or by the sweep if the server died.
/// </summary>
internal sealed class NatsUpload : IUpload
{
    private const long PauseAt = 4 * 1024 * 1024;
    private const long ResumeAt = 2 * 1024 * 1024;

    private readonly NatsFileStore _store;
    private readonly INatsObjStore _data;
    private readonly string _blob;
    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: PauseAt, resumeWriterThreshold: ResumeAt, useSynchronizationContext: false));
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _put;
    private readonly ChecksumAlgorithm.Hasher _hasher;
    private readonly NatsQuotaReservation? _reservation;
    private long _written;
    private bool _ended;

    private NatsUpload(NatsFileStore store, INatsObjStore data, UploadRequest request, NatsQuotaReservation? reservation)
    {
        _store = store;
        _reservation = reservation;
        _data = data;
        Request = request;
        _blob = "f." + NatsKeys.NewId();
        _hasher = request.Checksum.CreateHasher();
        var contents = _pipe.Reader.AsStream();
        _put = Task.Run(() => _data.PutAsync(new ObjectMetadata { Name = _blob }, contents, leaveOpen: false, _abort.Token).AsTask());
    }

    /// <param name="reservation">The room this upload holds in its user's quota; released when it ends.</param>
    public static NatsUpload Start(NatsFileStore store, INatsObjStore data, UploadRequest request, NatsQuotaReservation? reservation) =>
        new(store, data, request, reservation);

    public UploadRequest Request { get; }

    /// <summary>Uploads to this store start over: nothing is kept from an earlier attempt.</summary>
    public long ResumeOffset => 0;

    public ReadOnlyMemory<byte> ResumeChunkHashes => ReadOnlyMemory<byte>.Empty;

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken cancellationToken)
    {
        if (offset != _written)
            throw new FerryException(FerryErrorCode.FieldInvalid,
                $"This server's NATS store takes a file's bytes in order: {_written} bytes of '{Request.Path}' are stored, data came for offset {offset}.");
        if (data.Length > Request.Size - _written)
            throw new FerryException(FerryErrorCode.FieldInvalid,
                $"Data at offset {offset} with {data.Length} bytes does not fit a file of {Request.Size} bytes.");
        if (_put.IsCompleted)
            await ThrowStoreFailureAsync().ConfigureAwait(false);
        if (_reservation is not null)
            await _reservation.RenewIfDueAsync(Request.Size, cancellationToken).ConfigureAwait(false);
        _hasher.Append(data.Span);
        _written += data.Length;
        var flushed = await _pipe.Writer.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        if (flushed.IsCompleted)
            await ThrowStoreFailureAsync().ConfigureAwait(false);
    }

    public async ValueTask WriteAsync(ReadOnlySequence<byte> data, long offset, CancellationToken cancellationToken)
    {
        foreach (var segment in data)
        {
            await WriteAsync(segment, offset, cancellationToken).ConfigureAwait(false);
            offset += segment.Length;
        }
    }

    /// <summary>The object could not be written (the cluster lost its quorum, or refused it): io_error with the cause.</summary>
    private async ValueTask ThrowStoreFailureAsync()
    {
        try
        {
            await _put.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException or IOException)
        {
            throw new FerryException(FerryErrorCode.IoError, $"The NATS store did not take '{Request.Path}': {ex.Message}", ex);
        }
        throw new FerryException(FerryErrorCode.IoError, $"The NATS store stopped reading '{Request.Path}' early.");
    }

    public async ValueTask<byte[]> CommitAsync(byte[]? expectedHash, CancellationToken cancellationToken)
    {
        if (_written != Request.Size)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"Only {_written} of {Request.Size} bytes of '{Request.Path}' arrived; nothing was committed.");
        await _pipe.Writer.CompleteAsync().ConfigureAwait(false);
        try
        {
            await _put.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException or IOException)
        {
            await AbortAsync(keepForResume: false).ConfigureAwait(false);
            throw new FerryException(FerryErrorCode.IoError, $"The NATS store did not take '{Request.Path}': {ex.Message}; nothing was committed.", ex);
        }
        var hash = _hasher.GetHashAndReset();
        if (expectedHash is not null && !hash.AsSpan().SequenceEqual(expectedHash))
        {
            await AbortAsync(keepForResume: false).ConfigureAwait(false);
            throw new FerryException(FerryErrorCode.ChecksumMismatch,
                $"The data received for '{Request.Path}' does not match the sender's {Request.Checksum.Name} checksum; nothing was committed.");
        }
        try
        {
            await _store.PublishAsync(Request, _blob, hash, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await AbortAsync(keepForResume: false).ConfigureAwait(false);
            throw;
        }
        _ended = true;
        if (_reservation is not null)
            await _reservation.ReleaseAsync().ConfigureAwait(false); // after the name points to it: the file now counts itself
        return hash;
    }

    public async ValueTask AbortAsync(bool keepForResume)
    {
        if (_ended)
            return;
        _ended = true;
        await _abort.CancelAsync().ConfigureAwait(false);
        await _pipe.Writer.CompleteAsync(new OperationCanceledException("The upload was abandoned.")).ConfigureAwait(false);
        try
        {
            await _put.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException or TimeoutException or IOException)
        {
        }
        if (_reservation is not null)
            await _reservation.ReleaseAsync().ConfigureAwait(false);
        try
        {
            await _data.DeleteAsync(_blob, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException)
        {
            // Not there (the put never finished) or the cluster is away: the sweep removes it later.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await AbortAsync(keepForResume: false).ConfigureAwait(false);
        _hasher.Dispose();
        _abort.Dispose();
    }
}
