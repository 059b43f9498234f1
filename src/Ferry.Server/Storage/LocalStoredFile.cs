using Microsoft.Win32.SafeHandles;

namespace Ferry.Server.Storage;

/// <summary>A local file opened for reading; its length is fixed when opened so a growing file cannot overrun a frame.</summary>
internal sealed class LocalStoredFile : IStoredFile
{
    private readonly SafeFileHandle _handle;

    public LocalStoredFile(string fullPath)
        : this(File.OpenHandle(fullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous | FileOptions.SequentialScan))
    {
    }

    /// <summary>Takes a handle the store opened itself (beneath the root, on Linux); disposing this closes it.</summary>
    public LocalStoredFile(SafeFileHandle handle)
    {
        _handle = handle;
        Length = RandomAccess.GetLength(_handle);
        ModifiedTime = File.GetLastWriteTimeUtc(_handle);
    }

    public long Length { get; }
    public DateTimeOffset ModifiedTime { get; }
    public SafeFileHandle? LocalHandle => _handle;

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
