namespace Ferry.Client.Transfers;

/// <summary>One file in the download pipeline (docs/protocol.md §5.3): where it goes, what was asked, and how it went.</summary>
internal sealed class GetItem(FileTransfer file)
{
    private long _bytesReceived;
    private long _wireBytes;

    public FileTransfer File { get; } = file;
    public string RemotePath { get; set; } = file.RemotePath;
    public string LocalPath { get; set; } = file.LocalPath;
    public string PartPath { get; set; } = "";
    public long PartLength { get; set; }
    public long Id { get; set; }

    /// <summary>Where the data starts (after a kept prefix).</summary>
    public long Offset { get; set; }

    /// <summary>The remote size, when known before the get (parallel ranges are cut from it).</summary>
    public long Size { get; set; }

    /// <summary>The size a listing or scan gave before the get; null when unknown. Small listed files may go in get_files (§5.9.8).</summary>
    public long? ListedSize { get; set; }

    /// <summary>Replace an existing local file whatever the run's options say (sync).</summary>
    public bool ForceReplace { get; set; }

    /// <summary>Permission bits and modification time (ns) for the local file (sync); else the run's options decide the time.</summary>
    public int? Mode { get; set; }
    public long? ModifiedNs { get; set; }

    /// <summary>File bytes received (raw).</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    /// <summary>Body bytes received (compressed when the data was).</summary>
    public long WireBytes
    {
        get => Interlocked.Read(ref _wireBytes);
        set => Interlocked.Exchange(ref _wireBytes, value);
    }

    public void AddReceived(long bytes) => Interlocked.Add(ref _bytesReceived, bytes);
    public void AddWire(long bytes) => Interlocked.Add(ref _wireBytes, bytes);

    public long StartedAt { get; set; }
    public TransferResult? Result { get; set; }
    public Exception? Failure { get; set; }
    public bool Reported { get; set; }
}
