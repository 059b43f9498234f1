using Ferry.Protocol.Errors;

namespace Ferry.Client.Transfers;

/// <summary>One file to move: a local path and a remote path ('/'-separated, relative to the user's root).</summary>
public sealed record FileTransfer(string LocalPath, string RemotePath);

/// <summary>A file that arrived intact: the server (put) or the client (get) checked the whole-file checksum.</summary>
public sealed record TransferResult
{
    /// <summary>The local file, as given.</summary>
    public required string LocalPath { get; init; }

    /// <summary>The remote path, normalized (docs/protocol.md §5.1).</summary>
    public required string RemotePath { get; init; }

    /// <summary>Size of the file in bytes.</summary>
    public long Bytes { get; init; }

    /// <summary>File bytes that crossed the network: less than <see cref="Bytes"/> after a resume, more if chunks were sent again.</summary>
    public long BytesTransferred { get; init; }

    /// <summary>Where the transfer continued from: 0 for a fresh transfer, otherwise the length of the part kept.</summary>
    public long ResumedFrom { get; init; }

    /// <summary>From the first data byte to the checked checksum.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary><see cref="Elapsed"/> in seconds.</summary>
    public double Seconds => Elapsed.TotalSeconds;

    /// <summary>The checksum algorithm's wire name (<c>xxh3-128</c> or <c>sha256</c>).</summary>
    public required string Checksum { get; init; }

    /// <summary>Lower-case hex of the whole-file checksum.</summary>
    public required string Hash { get; init; }

    /// <summary>
    /// A put found the target already on the server, identical to the local file (same size, same chunk hashes), so
    /// nothing was sent: the usual case when a put that completed is run again.
    /// </summary>
    public bool AlreadyUpToDate { get; init; }
}

/// <summary>A file that did not arrive. <see cref="Error"/> is a <see cref="FerryException"/> (remote or local refusal) or an I/O error.</summary>
public sealed record TransferFailure(string LocalPath, string RemotePath, Exception Error)
{
    /// <summary>The stable error code, or <see cref="FerryErrorCode.IoError"/> for a local I/O error.</summary>
    public FerryErrorCode Code => Error is FerryException f ? f.Code : FerryErrorCode.IoError;
}

/// <summary>The outcome of a multi-file transfer: which files arrived and which did not, in the order given.</summary>
public sealed record BatchTransferResult
{
    /// <summary>The files that arrived intact.</summary>
    public required IReadOnlyList<TransferResult> Completed { get; init; }
    /// <summary>The files that did not, each with its error.</summary>
    public required IReadOnlyList<TransferFailure> Failed { get; init; }

    /// <summary>Local symbolic links found in an uploaded tree and skipped (never followed), as local paths.</summary>
    public IReadOnlyList<string> SkippedLinks { get; init; } = [];

    /// <summary>Wall time of the whole batch.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Bytes of the files that arrived.</summary>
    public long Bytes => Completed.Sum(r => r.Bytes);

    /// <summary>Throws the first failure's exception, if any.</summary>
    public void ThrowIfFailed()
    {
        if (Failed.Count > 0)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(Failed[0].Error);
    }
}
