namespace Ferry.Client.Sync;

/// <summary>Told as a batch transfer progresses; called from the transfer's own tasks, so implementations must be thread-safe and quick.</summary>
internal interface IFileSyncObserver
{
    /// <summary><paramref name="bytes"/> more bytes of file data that had to move have moved (reused bytes never count).</summary>
    void DataMoved(long bytes);

    /// <summary>One file is done, well or not.</summary>
    void FileFinished(FileSyncOutcome outcome);
}
