using Ferry.Protocol.Files;

namespace Ferry.Server.Storage;

/// <summary>What an upload is: target, size, checksum, and whether it may replace or resume.</summary>
/// <param name="ConcurrentWrites">Ranges may arrive from several connections at once: no running hash, the commit re-reads the file.</param>
/// <param name="Mode">Permission bits to give the file before it is renamed into place (masked to 0o777; §5.9.3).</param>
/// <param name="ModifiedNs">Modification time in nanoseconds since the epoch, instead of <paramref name="ModifiedTime"/>.</param>
internal sealed record UploadRequest(string Path, long Size, ChecksumAlgorithm Checksum, bool Force, bool Resume, DateTimeOffset? ModifiedTime, int ChunkSize,
    bool ConcurrentWrites = false, int? Mode = null, long? ModifiedNs = null);
