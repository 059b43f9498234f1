using Ferry.Sync.Chunking;

namespace Ferry.Sync.Caching;

/// <summary>
/// What reading one version of a file yields: its whole-content XXH3-128 and, when asked for, its chunk list under
/// given chunking parameters. Immutable; the hash cache keeps these.
/// </summary>
/// <param name="Identity">The version of the file the digest is of.</param>
/// <param name="ContentHash">XXH3-128 of the whole content.</param>
/// <param name="ChunkParameters">The parameters <paramref name="Chunks"/> were cut with; null when there are no chunks.</param>
/// <param name="Chunks">The chunk list, or null when it was not asked for.</param>
public sealed record FileDigest(FileIdentity Identity, UInt128 ContentHash, ChunkingParameters? ChunkParameters, IReadOnlyList<Chunk>? Chunks)
{
    /// <summary>Whether the digest holds a chunk list cut with <paramref name="parameters"/>.</summary>
    public bool HasChunksFor(ChunkingParameters parameters) => Chunks is not null && parameters.Equals(ChunkParameters);
}
