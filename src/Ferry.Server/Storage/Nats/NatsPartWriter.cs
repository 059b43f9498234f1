using System.IO.Pipelines;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;
using NATS.Client.Core;
using NATS.Client.ObjectStore;
using NATS.Client.ObjectStore.Models;

namespace Ferry.Server.Storage.Nats;

/// <summary>One part of an upload streaming into its object, through a bounded pipe, with its own checksum.</summary>
internal sealed class NatsPartWriter
{
    private const long PauseAt = 4 * 1024 * 1024;
    private const long ResumeAt = 2 * 1024 * 1024;

    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: PauseAt, resumeWriterThreshold: ResumeAt, useSynchronizationContext: false));
    private readonly CancellationTokenSource _abort = new();
    private readonly ChecksumAlgorithm.Hasher _hasher;
    private readonly INatsObjStore _data;
    private readonly Task _put;

    public NatsPartWriter(INatsObjStore data, string name, ChecksumAlgorithm checksum)
    {
        _data = data;
        Name = name;
        _hasher = checksum.CreateHasher();
        var contents = _pipe.Reader.AsStream();
        _put = Task.Run(() => data.PutAsync(new ObjectMetadata { Name = name }, contents, leaveOpen: false, _abort.Token).AsTask());
    }

    public string Name { get; }
    public long Length { get; private set; }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, string path, CancellationToken cancellationToken)
    {
        if (_put.IsCompleted)
            await ThrowStoreFailureAsync(path).ConfigureAwait(false);
        _hasher.Append(data.Span);
        Length += data.Length;
        var flushed = await _pipe.Writer.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        if (flushed.IsCompleted)
            await ThrowStoreFailureAsync(path).ConfigureAwait(false);
    }

    /// <summary>Ends the part's object and returns the part's checksum.</summary>
    public async ValueTask<byte[]> FinishAsync(string path, CancellationToken cancellationToken)
    {
        await _pipe.Writer.CompleteAsync().ConfigureAwait(false);
        try
        {
            await _put.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException or IOException)
        {
            throw new FerryException(FerryErrorCode.IoError, $"The NATS store did not take '{path}': {ex.Message}; send it again to resume.", ex);
        }
        finally
        {
            _abort.Dispose();
        }
        using (_hasher)
            return _hasher.GetHashAndReset();
    }

    /// <summary>The object could not be written (the cluster lost its quorum, or refused it): io_error with the cause.</summary>
    private async ValueTask ThrowStoreFailureAsync(string path)
    {
        try
        {
            await _put.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException or IOException)
        {
            throw new FerryException(FerryErrorCode.IoError, $"The NATS store did not take '{path}': {ex.Message}; send it again to resume.", ex);
        }
        throw new FerryException(FerryErrorCode.IoError, $"The NATS store stopped reading '{path}' early.");
    }

    public async ValueTask AbandonAsync()
    {
        await _abort.CancelAsync().ConfigureAwait(false);
        await _pipe.Writer.CompleteAsync(new OperationCanceledException("The upload was abandoned.")).ConfigureAwait(false);
        try
        {
            await _put.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException or TimeoutException or IOException)
        {
        }
        _abort.Dispose();
        _hasher.Dispose();
        try
        {
            await _data.DeleteAsync(Name, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException)
        {
            // Never finished, or the cluster is away: the sweep removes it later.
        }
    }
}
