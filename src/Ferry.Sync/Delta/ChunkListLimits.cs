using Ferry.Sync.Chunking;

namespace Ferry.Sync.Delta;

/// <summary>
/// What a decoded chunk list may declare. Decoding never allocates for more chunks than both <see cref="MaxChunks"/> and
/// the input's own length allow, so a hostile count cannot make the receiver reserve memory it was not sent.
/// </summary>
public sealed record ChunkListLimits
{
    /// <summary>
    /// The defaults: 4 Mi chunks (a 1 TiB file at the 256 KiB average is ~4 Mi chunks), chunks up to the largest maximum
    /// size an override allows, files up to 4 TiB.
    /// </summary>
    public static ChunkListLimits Default { get; } = new();

    /// <summary>Most chunks one list may hold.</summary>
    public int MaxChunks { get; init; } = 4 * 1024 * 1024;

    /// <summary>Longest chunk accepted.</summary>
    public int MaxChunkLength { get; init; } = 4 * ChunkingParameters.LargestAverage;

    /// <summary>Largest sum of the chunk lengths (the file length) accepted.</summary>
    public long MaxTotalLength { get; init; } = 4L << 40;
}
