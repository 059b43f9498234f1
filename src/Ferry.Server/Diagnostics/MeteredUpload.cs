using Ferry.Server.Storage;

namespace Ferry.Server.Diagnostics;

/// <summary>
/// An upload that counts itself: started when created, then exactly one of finished (committed) or failed (a failed
/// commit, an abort, or the connection ending first).
/// </summary>
internal sealed class MeteredUpload : IUpload
{
    private readonly IUpload _inner;
    private readonly FerryMetrics _metrics;
    private int _ended;

    public MeteredUpload(IUpload inner, FerryMetrics metrics)
    {
        _inner = inner;
        _metrics = metrics;
        metrics.TransferStarted(upload: true);
    }

    public UploadRequest Request => _inner.Request;
    public long ResumeOffset => _inner.ResumeOffset;
    public ReadOnlyMemory<byte> ResumeChunkHashes => _inner.ResumeChunkHashes;

    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken cancellationToken) => _inner.WriteAsync(data, offset, cancellationToken);

    public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken) => _inner.ReadAsync(buffer, offset, cancellationToken);

    public ValueTask WriteAsync(System.Buffers.ReadOnlySequence<byte> data, long offset, CancellationToken cancellationToken) =>
        _inner.WriteAsync(data, offset, cancellationToken);

    public async ValueTask<byte[]> CommitAsync(byte[]? expectedHash, CancellationToken cancellationToken)
    {
        try
        {
            var hash = await _inner.CommitAsync(expectedHash, cancellationToken).ConfigureAwait(false);
            End(finished: true);
            return hash;
        }
        catch
        {
            End(finished: false);
            throw;
        }
    }

    public ValueTask AbortAsync(bool keepForResume)
    {
        End(finished: false);
        return _inner.AbortAsync(keepForResume);
    }

    public ValueTask DisposeAsync()
    {
        End(finished: false); // no-op after a commit
        return _inner.DisposeAsync();
    }

    private void End(bool finished)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
            return;
        if (finished)
            _metrics.TransferFinished(upload: true);
        else
            _metrics.TransferFailed(upload: true);
    }
}
