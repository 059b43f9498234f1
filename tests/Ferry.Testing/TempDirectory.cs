namespace Ferry.Testing;

/// <summary>A fresh directory under the system temp folder (or another parent), deleted on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "ferry-test", string? parent = null)
    {
        Path = System.IO.Path.Combine(parent ?? System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    /// <summary>
    /// A directory in memory (/dev/shm) when the machine has one, else under the temp folder: tests that write hundreds
    /// of mebibytes several times then measure the code, not the disk.
    /// </summary>
    public static TempDirectory InMemory(string prefix) =>
        new(prefix, Directory.Exists("/dev/shm") && OperatingSystem.IsLinux() ? "/dev/shm" : null);

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
