using Ferry.Protocol.Errors;

namespace Ferry.Client.Transfers;

/// <summary>One file in the upload pipeline (docs/protocol.md §5.2, §5.9.3): what is asked of the server, what it answered, and how it went.</summary>
internal sealed class PutItem(FileTransfer file)
{
    private long _bytesSent;
    private long _wireBytes;

    public FileTransfer File { get; } = file;
    public string RemotePath { get; set; } = file.RemotePath;
    public long Id { get; set; }
    public long Size { get; set; }
    public long? ModifiedUnixSeconds { get; set; }

    /// <summary>Modification time in nanoseconds (sync); sent instead of <see cref="ModifiedUnixSeconds"/> when set.</summary>
    public long? ModifiedNs { get; set; }

    /// <summary>Permission bits for the remote file (sync).</summary>
    public int? Mode { get; set; }

    /// <summary>Replace an existing remote file whatever the run's options say (sync replaces what it decided to replace).</summary>
    public bool ForceReplace { get; set; }

    /// <summary>Ask for a resume point even when the run's options do not (sync: a large file interrupted earlier).</summary>
    public bool ResumeIfKept { get; set; }

    /// <summary>Delta put: the remote basis files, the chunk-list body and its average chunk size (§5.9.3).</summary>
    public string[]? Basis { get; set; }
    public byte[]? ChunkList { get; set; }
    public int? AverageChunkSize { get; set; }

    /// <summary>
    /// Two-level delta put (§5.9.6): the new file's chunks and their groups. <see cref="ChunkList"/> then holds the group
    /// list; the chunks of the groups the server lacks go in put_chunks once put_groups named them.
    /// </summary>
    public IReadOnlyList<Ferry.Sync.Chunking.Chunk>? Chunks { get; set; }
    public List<Ferry.Sync.Delta.ChunkGroup>? Groups { get; set; }

    /// <summary>Two-level delta put: the put_chunks body, set when put_groups came (true) or not (false: nothing more is sent).</summary>
    public byte[]? ChunksToSend { get; set; }
    public TaskCompletionSource<bool> GroupsAnswered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The whole-file hash, when already known (from the local hash cache); else computed while sending.</summary>
    public string? KnownHash { get; set; }

    /// <summary>Delta put: the ranges the server asked for.</summary>
    public List<(long Offset, long Length)>? Needed { get; set; }

    /// <summary>Shared upload: the token other connections join with (§5.2.1).</summary>
    public string? Token { get; set; }

    public long Offset { get; set; }
    public int ChunkSize { get; set; }
    public byte[] ChunkHashes { get; set; } = [];

    /// <summary>File bytes sent (raw).</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>Body bytes sent (after compression).</summary>
    public long WireBytes => Interlocked.Read(ref _wireBytes);

    public void AddSent(long bytes) => Interlocked.Add(ref _bytesSent, bytes);
    public void AddWire(long bytes) => Interlocked.Add(ref _wireBytes, bytes);

    /// <summary>Sent whole in one put_file frame (§5.2.2) instead of put, put_data and put_end.</summary>
    public bool InOneFrame { get; set; }

    public long StartedAt { get; set; }
    public string? LocalHash { get; set; }
    public TaskCompletionSource<bool> Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public TransferResult? Result { get; set; }
    public Exception? Failure { get; set; }

    /// <summary>The server's already_exists, kept until the server's copy has been compared with the local file.</summary>
    public FerryRemoteException? Existing { get; set; }

    public bool Reported { get; set; }
}
