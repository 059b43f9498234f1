namespace Ferry.Server.Storage;

/// <summary>
/// An open file to read from. A file of the local file system also offers <see cref="ILocalFileAccess"/> (zero-copy sends,
/// digests by inode); a handler asks for it and does without it when it is missing.
/// </summary>
internal interface IStoredFile : IAsyncDisposable
{
    long Length { get; }
    DateTimeOffset ModifiedTime { get; }

    ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken);
}
