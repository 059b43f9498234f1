using Ferry.Protocol.Files;

namespace Ferry.Server.Storage;

/// <summary>
/// A stored file whose whole-file checksum was checked when it was committed and kept with it (the NATS store: its parts
/// never change afterwards, and every part read is checked against the object store's own digest). A get then sends
/// that checksum instead of reading the whole file a second time to compute it. Files that can change in place (the
/// local file system) do not offer it.
/// </summary>
internal interface IRecordedChecksum
{
    /// <summary>The checksum recorded at commit when it was taken with <paramref name="algorithm"/>; null otherwise.</summary>
    byte[]? RecordedHash(ChecksumAlgorithm algorithm);
}
