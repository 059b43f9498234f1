namespace Ferry.Sync.Batching;

/// <summary>
/// One whole file of a put_files body (docs/protocol.md §5.9.7), as the reader found it: <see cref="Hash"/> and
/// <see cref="Content"/> are slices of the body.
/// </summary>
/// <param name="Name">The remote path, as sent (not yet normalized).</param>
/// <param name="Mode">Permission bits to give the file, or null to leave the server's default.</param>
/// <param name="ModifiedNs">Modification time in nanoseconds since the Unix epoch, or null to leave the time of writing.</param>
/// <param name="Force">Replace an existing file.</param>
/// <param name="Hash">The xxh3-128 of <see cref="Content"/>, 16 bytes.</param>
/// <param name="Content">The whole file.</param>
public readonly record struct FileRecord(string Name, int? Mode, long? ModifiedNs, bool Force, ReadOnlyMemory<byte> Hash, ReadOnlyMemory<byte> Content);
