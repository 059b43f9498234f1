namespace Ferry.Client.Sync;

/// <summary>What happened to one file of a batch.</summary>
/// <param name="Path">The file's destination path (remote for a push, local for a pull).</param>
/// <param name="ErrorCode">Null on success; else the stable error code (docs/errors.md) or <c>io_error</c> for a local failure.</param>
/// <param name="ErrorMessage">A sentence for the user on failure.</param>
/// <param name="BytesSent">File data that crossed the connection for this file (after compression).</param>
/// <param name="BytesReused">Bytes of the new file the receiver took from files it already had.</param>
/// <param name="Delta">True when the file went as a delta rather than whole.</param>
internal sealed record FileSyncOutcome(string Path, string? ErrorCode, string? ErrorMessage, long BytesSent, long BytesReused, bool Delta)
{
    public bool Succeeded => ErrorCode is null;
}
