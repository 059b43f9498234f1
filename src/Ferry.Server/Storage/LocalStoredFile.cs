using Microsoft.Win32.SafeHandles;

namespace Ferry.Server.Storage;

/// <summary>A local file opened for reading; its length is fixed when opened so a growing file cannot overrun a frame.</summary>
internal sealed class LocalStoredFile : IStoredFile, ILocalFileAccess
{
    private readonly SafeFileHandle _handle;

    public LocalStoredFile(string fullPath)
        : this(File.OpenHandle(fullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous | FileOptions.SequentialScan))
    {
    }

    /// <summary>Takes a handle the store opened itself (beneath the root, on Linux); disposing this closes it.</summary>
    public LocalStoredFile(SafeFileHandle handle)
        : this(handle, RandomAccess.GetLength(handle), File.GetLastWriteTimeUtc(handle))
    {
    }

    /// <summary>Takes a handle with the length and time its caller just read from it (a scan's statx): no second look.</summary>
    public LocalStoredFile(SafeFileHandle handle, long length, DateTimeOffset modifiedTime)
    {
        _handle = handle;
        Length = length;
        ModifiedTime = modifiedTime;
    }

    public long Length { get; }
    public DateTimeOffset ModifiedTime { get; }
    public SafeFileHandle Handle => _handle;

    public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken)
    {
        // Never read past the length fixed at open: the frame declared exactly that many bytes.
        var remaining = Length - offset;
        if (remaining <= 0)
            return ValueTask.FromResult(0);
        if (buffer.Length > remaining)
            buffer = buffer[..(int)remaining];
        return RandomAccess.ReadAsync(_handle, buffer, offset, cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        _handle.Dispose();
        return ValueTask.CompletedTask;
    }
}
