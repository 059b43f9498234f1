namespace Ferry.Sync.Batching;

/// <summary>
/// The record layout of a put_files body (docs/protocol.md §5.9.7), shared by <see cref="FileRecordWriter"/> and
/// <see cref="FileRecordReader"/>:
/// <code>
/// [varint keep][varint add][add bytes]   name: the first keep bytes of the previous record's name, then add bytes (UTF-8)
/// [u8 flags]                             1 = mode follows, 2 = mtime follows, 4 = force; other bits must be 0
/// [varint mode]                          if flags &amp; 1: 0 to 2^31-1
/// [varint zigzag(mtime - previous)]      if flags &amp; 2: nanoseconds, as a difference from the last time given (0 at first)
/// [varint size][16 bytes xxh3-128][size bytes content]
/// </code>
/// Varints are unsigned LEB128 as in the chunk-list encoding (at most 10 bytes, no needless bytes).
/// </summary>
public static class FileRecordFormat
{
    /// <summary>Bytes of the binary xxh3-128 that precedes each file's content.</summary>
    public const int HashBytes = 16;

    /// <summary>Longest name a record may carry, in UTF-8 bytes (longer is refused before anything else is read).</summary>
    public const int MaxNameBytes = 4096;

    internal const byte HasMode = 1, HasTime = 2, Force = 4, KnownFlags = HasMode | HasTime | Force;

    /// <summary>
    /// Bytes a record adds besides its content, at most: the name, three varints of names and size, the flags, mode,
    /// time and hash. A writer reserves this much before it writes one.
    /// </summary>
    public static int MaxOverhead(int nameBytes) => nameBytes + 3 * 10 + 1 + 10 + 10 + HashBytes;

    internal static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    internal static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);
}
