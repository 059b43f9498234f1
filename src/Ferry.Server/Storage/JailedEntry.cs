using Microsoft.Win32.SafeHandles;

namespace Ferry.Server.Storage;

/// <summary>
/// One name in a folder under a root, for the calls that change it (create, rename, remove): the folder is held open
/// (Linux), so whatever is renamed or swapped for a link above it later, every call acts in the folder that was checked;
/// the name itself is never followed if it is a link.
/// </summary>
internal sealed class JailedEntry : IDisposable
{
    /// <param name="directory">The folder, opened beneath the root; null where the store checks path strings (not Linux).</param>
    /// <param name="directoryPath">Where the folder is under the root, for logs and the part-file registry.</param>
    public JailedEntry(SafeFileHandle? directory, string directoryPath, string name)
    {
        Directory = directory;
        Name = name;
        FullPath = System.IO.Path.Join(directoryPath, name);
        DirectoryPath = directoryPath;
        CallPath = directory is null ? directoryPath : Beneath.FdPath(directory);
    }

    public SafeFileHandle? Directory { get; }

    public string Name { get; }

    /// <summary>The entry's path under the root (from the root's path as configured).</summary>
    public string FullPath { get; }

    public string DirectoryPath { get; }

    /// <summary>The folder as .NET calls should name it: /proc/self/fd/N for an open folder (the opened folder itself).</summary>
    public string CallPath { get; }

    /// <summary>A name in the same folder, for .NET calls (they do not follow a link in its last component where it matters).</summary>
    public string PathOf(string name) => System.IO.Path.Join(CallPath, name);

    /// <summary>The entry itself, for .NET calls.</summary>
    public string Path => PathOf(Name);

    /// <summary>The path of another name in the same folder under the root.</summary>
    public string FullPathOf(string name) => System.IO.Path.Join(DirectoryPath, name);

    public void Dispose() => Directory?.Dispose();
}
