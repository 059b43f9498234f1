namespace Ferry.Sync.Delta;

/// <summary>How many bytes of each <see cref="Chunking.ChunkId"/> an encoded chunk list carries.</summary>
public enum ChunkIdWidth
{
    /// <summary>
    /// The low 64 bits: half the size on the wire. A false match among a file's chunks is then about n²/2^65 likely
    /// (10^-10 for a million chunks); the receiver's whole-file check catches it and the file is sent again with full ids.
    /// </summary>
    Bits64 = 8,

    /// <summary>The whole 128-bit XXH3 hash.</summary>
    Bits128 = 16,
}
