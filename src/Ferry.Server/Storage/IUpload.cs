using Ferry.Protocol.Errors;

namespace Ferry.Server.Storage;

/// <summary>An upload in progress.</summary>
internal interface IUpload : IAsyncDisposable
{
    UploadRequest Request { get; }

    /// <summary>Bytes already held from an earlier attempt (whole chunks); 0 for a fresh upload.</summary>
    long ResumeOffset { get; }

    /// <summary>Hashes of the chunks in [0, <see cref="ResumeOffset"/>), concatenated.</summary>
    ReadOnlyMemory<byte> ResumeChunkHashes { get; }

    ValueTask WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken cancellationToken);

    /// <summary>Writes several buffers at <paramref name="offset"/> in one call (a gather write where the store has one).</summary>
    ValueTask WriteAsync(System.Buffers.ReadOnlySequence<byte> data, long offset, CancellationToken cancellationToken);

    /// <summary>
    /// Verifies the assembled file against <paramref name="expectedHash"/> and makes it visible under its final name.
    /// Returns the hash. On mismatch throws checksum_mismatch and discards the data.
    /// </summary>
    ValueTask<byte[]> CommitAsync(byte[]? expectedHash, CancellationToken cancellationToken);

    /// <summary>Ends without committing; <paramref name="keepForResume"/> keeps the data for a later resume.</summary>
    ValueTask AbortAsync(bool keepForResume);

    /// <summary>Reads back bytes already written (a delta put copies repeated chunks within the new file, §5.9.3).</summary>
    ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken) =>
        throw new FerryException(FerryErrorCode.IoError, "This upload cannot be read back.");
}
