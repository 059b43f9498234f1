using Ferry.Protocol.Files;

namespace Ferry.Client.Transfers;

/// <summary>How an upload treats an existing remote file, a partial upload and the checksum (docs/protocol.md §5.2).</summary>
public sealed record PutOptions
{
    /// <summary>Replace an existing remote file. Default false: the server refuses with <c>already_exists</c> before any data moves.</summary>
    public bool Force { get; init; }

    /// <summary>
    /// Continue a partial upload the server kept (§5.6): chunks the server already holds are compared by hash and only
    /// those that differ are sent again, then everything after them. Default false (a partial upload is discarded).
    /// </summary>
    public bool Resume { get; init; }

    /// <summary>Checksum of the whole file and of the resume chunks. Default xxh3-128.</summary>
    internal ChecksumAlgorithm Checksum { get; init; } = ChecksumAlgorithm.Default;

    /// <summary>Give the remote file the local file's modification time. Default true.</summary>
    public bool PreserveModifiedTime { get; init; } = true;

    /// <summary>
    /// Most file data bytes per second, shared by every connection of the call (null, the default: no limit). Counted on
    /// data frame bodies, so a transfer is throttled from its first frame; must be 1 or more.
    /// </summary>
    public long? BandwidthLimit { get; init; }

    /// <summary>The defaults documented on each property.</summary>
    public static PutOptions Default { get; } = new();
}

/// <summary>How a download treats an existing local file, a partial download and the checksum (docs/protocol.md §5.3).</summary>
public sealed record GetOptions
{
    /// <summary>
    /// Replace an existing local file. Default false: the download fails with <c>already_exists</c> before the server is
    /// asked for any data.
    /// </summary>
    public bool Force { get; init; }

    /// <summary>
    /// Continue from a partial download (<c>.ferry-part.NAME</c> beside the target) left by an interrupted attempt: its
    /// chunks are compared with the server's by hash, the matching prefix is kept and the rest is fetched. Default false
    /// (the partial file is overwritten).
    /// </summary>
    public bool Resume { get; init; }

    /// <summary>Checksum the server computes over the whole file and the client checks. Default xxh3-128.</summary>
    internal ChecksumAlgorithm Checksum { get; init; } = ChecksumAlgorithm.Default;

    /// <summary>Give the local file the remote file's modification time. Default true.</summary>
    public bool PreserveModifiedTime { get; init; } = true;

    /// <summary>
    /// Most file data bytes per second, shared by every connection of the call (null, the default: no limit). Counted on
    /// data frame bodies as they are read; must be 1 or more.
    /// </summary>
    public long? BandwidthLimit { get; init; }

    /// <summary>The defaults documented on each property.</summary>
    public static GetOptions Default { get; } = new();
}
