using Microsoft.Win32.SafeHandles;

namespace Ferry.Sync.Tests;

/// <summary>Opens files for a <see cref="Caching.FileDigester"/> and counts how often, per path.</summary>
internal sealed class CountingOpener
{
    private int _opens;

    public int Opens => Volatile.Read(ref _opens);

    public SafeFileHandle Open(string path)
    {
        Interlocked.Increment(ref _opens);
        return File.OpenHandle(path);
    }
}
