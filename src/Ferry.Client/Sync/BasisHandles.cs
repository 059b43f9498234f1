using Microsoft.Win32.SafeHandles;

namespace Ferry.Client.Sync;

/// <summary>
/// The local files a delta pull copies from, each opened on its first read and kept open until the pull ends (a
/// scattered change makes hundreds of copies from the same file).
/// </summary>
internal sealed class BasisHandles(IReadOnlyList<string> paths) : IDisposable
{
    private readonly SafeFileHandle?[] _handles = new SafeFileHandle?[paths.Count];

    /// <summary>Reads basis file <paramref name="file"/> (its index in the plan) at <paramref name="offset"/>.</summary>
    public ValueTask<int> ReadAsync(int file, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var handle = _handles[file] ??= File.OpenHandle(paths[file], FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        return RandomAccess.ReadAsync(handle, buffer, offset, cancellationToken);
    }

    public void Dispose()
    {
        foreach (var handle in _handles)
            handle?.Dispose();
    }
}
