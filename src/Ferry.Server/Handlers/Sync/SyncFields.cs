using Ferry.Protocol.Errors;

namespace Ferry.Server.Handlers.Sync;

/// <summary>Checks of the fields the sync commands share (docs/protocol.md §5.9).</summary>
internal static class SyncFields
{
    /// <summary>
    /// The modification time of a put or put_file given in whole seconds (<c>mtime</c>, clamped to years 1970-9999), or
    /// null; a request that also carries <c>mtime_ns</c> is refused (§5.9.3).
    /// </summary>
    public static DateTimeOffset? ModifiedTime(long? seconds, long? nanoseconds, string command)
    {
        if (seconds is not null && nanoseconds is not null)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"A {command} carries 'mtime' or 'mtime_ns', not both.");
        return seconds is { } s ? DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(s, 0, 253402300799)) : null;
    }

    /// <summary>A mode is 0 or more; bits above 0o777 (set-user-id, set-group-id, sticky) are masked off where it is applied.</summary>
    public static void CheckMode(int? mode)
    {
        if (mode is < 0)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"'mode' must not be negative (got {mode}).");
    }

    /// <summary>
    /// Chunks a file may be expected to have (length / avg) for the server to chunk it: the list is held in memory, so a
    /// small average on a large file is refused (chunks) or the file not used (a delta put's basis).
    /// </summary>
    public const long MaxExpectedChunks = Ferry.Sync.Chunking.ChunkingParameters.MostChunksPerFile;

    public static bool TooManyChunks(long length, int average) => length / average > MaxExpectedChunks;

    /// <summary>§5.9.2: a power of two from 64 to 4 MiB.</summary>
    public static void CheckAverageChunkSize(int average)
    {
        if (average < Ferry.Sync.Chunking.ChunkingParameters.SmallestAverage || average > Ferry.Sync.Chunking.ChunkingParameters.LargestAverage
            || (average & (average - 1)) != 0)
            throw new FerryException(FerryErrorCode.FieldInvalid, $"'avg' must be a power of two from 64 to 4 MiB (got {average}).");
    }
}
