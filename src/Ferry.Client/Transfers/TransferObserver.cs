namespace Ferry.Client.Transfers;

/// <summary>
/// Follows a multi-file transfer file by file. Callbacks come from the transfer's sending and receiving loops, which run
/// concurrently: an observer must be thread-safe and quick (it runs on the data path).
/// </summary>
public abstract class TransferObserver
{
    /// <summary>An observer that ignores everything.</summary>
    public static TransferObserver None { get; } = new NoObserver();

    /// <summary>Data for <paramref name="file"/> starts to move. <paramref name="resumedFrom"/> bytes were already in place.</summary>
    public virtual void OnStarted(FileTransfer file, long size, long resumedFrom) { }

    /// <summary><paramref name="bytesDone"/> of the file's bytes are done (including a resumed prefix); called at most every MiB or so.</summary>
    public virtual void OnProgress(FileTransfer file, long bytesDone) { }

    /// <summary>The file arrived intact (its checksum verified).</summary>
    public virtual void OnCompleted(FileTransfer file, TransferResult result) { }

    /// <summary>The file did not arrive; the batch goes on with the others.</summary>
    public virtual void OnFailed(FileTransfer file, Exception error) { }

    /// <summary>
    /// An observer for the batch and tree transfers that reports each file's <see cref="TransferProgress"/> to
    /// <paramref name="progress"/>: when it starts, as its bytes move (about every MiB), and when it completes.
    /// </summary>
    public static TransferObserver FromProgress(IProgress<TransferProgress> progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        return new BatchProgressAdapter(progress);
    }

    private sealed class NoObserver : TransferObserver;

    private sealed class BatchProgressAdapter(IProgress<TransferProgress> progress) : TransferObserver
    {
        // Sizes by file, for the progress calls that carry none; the send and receive loops of a batch both report.
        private readonly System.Collections.Concurrent.ConcurrentDictionary<FileTransfer, long> _sizes = new();

        public override void OnStarted(FileTransfer file, long size, long resumedFrom)
        {
            _sizes[file] = size;
            progress.Report(new TransferProgress(file, resumedFrom, size, Completed: false));
        }

        public override void OnProgress(FileTransfer file, long bytesDone) =>
            progress.Report(new TransferProgress(file, bytesDone, _sizes.GetValueOrDefault(file, bytesDone), Completed: false));

        public override void OnCompleted(FileTransfer file, TransferResult result)
        {
            _sizes.TryRemove(file, out _);
            progress.Report(new TransferProgress(file, result.Bytes, result.Bytes, Completed: true));
        }

        public override void OnFailed(FileTransfer file, Exception error) => _sizes.TryRemove(file, out _);
    }

    /// <summary>Adapts a single file's <see cref="IProgress{T}"/> of bytes done.</summary>
    internal sealed class ProgressAdapter(IProgress<long> progress) : TransferObserver
    {
        public override void OnStarted(FileTransfer file, long size, long resumedFrom) => progress.Report(resumedFrom);
        public override void OnProgress(FileTransfer file, long bytesDone) => progress.Report(bytesDone);
    }
}
