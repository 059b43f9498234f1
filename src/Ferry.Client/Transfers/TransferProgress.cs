namespace Ferry.Client.Transfers;

/// <summary>
/// Where one file of a transfer stands, as reported to an <see cref="IProgress{T}"/> through
/// <see cref="TransferObserver.FromProgress"/>.
/// </summary>
/// <param name="File">The file, as given to the batch (or found in the tree).</param>
/// <param name="BytesDone">Bytes of the file in place so far, a resumed prefix included.</param>
/// <param name="Size">The file's size in bytes.</param>
/// <param name="Completed">True once, when the file arrived intact; a failed file is reported in the batch's result instead.</param>
public sealed record TransferProgress(FileTransfer File, long BytesDone, long Size, bool Completed);
