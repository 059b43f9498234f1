using Microsoft.Win32.SafeHandles;

namespace Ferry.Server.Storage;

/// <summary>
/// An optional ability of a stored file that lives in the local file system: its open descriptor, for what only a local
/// file allows (sendfile straight to the socket, a hash cache keyed by device and inode). Stores whose files are
/// elsewhere do not offer it; handlers then take the portable path through <see cref="IStoredFile.ReadAsync"/>.
/// </summary>
internal interface ILocalFileAccess
{
    /// <summary>The descriptor, open for reading; owned by the stored file (closed when it is disposed).</summary>
    SafeFileHandle Handle { get; }
}
