namespace Ferry.Sync.Caching;

/// <summary>
/// What the hash cache knows a file by: its device and inode (which file), and its size, modification time and status
/// change time in nanoseconds (which version of it). Any write changes the modification time, and anything that could
/// set it back (touch, utimensat, a rename over the file) changes the change time, which no user can set; so an equal
/// identity means unchanged content, short of a write within the file system's timestamp granularity (see
/// <see cref="FileDigester.RacyWindow"/>).
/// </summary>
/// <param name="Device">st_dev (major and minor combined).</param>
/// <param name="Inode">st_ino.</param>
/// <param name="Size">st_size in bytes.</param>
/// <param name="ModifiedNs">st_mtime in nanoseconds since the Unix epoch.</param>
/// <param name="ChangedNs">st_ctime in nanoseconds since the Unix epoch.</param>
public readonly record struct FileIdentity(ulong Device, ulong Inode, long Size, long ModifiedNs, long ChangedNs)
{
    /// <summary>The part that names the file itself, whatever its version.</summary>
    public (ulong Device, ulong Inode) FileKey => (Device, Inode);
}
