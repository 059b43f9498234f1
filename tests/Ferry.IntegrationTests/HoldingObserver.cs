using Ferry.Client.Transfers;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// Keeps an upload open on the server: the client's sending path stops when a file's data is about to move (the server
/// has answered put_ready, so its upload exists), until the test releases it.
/// </summary>
internal sealed class HoldingObserver : TransferObserver, IDisposable
{
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ManualResetEventSlim _release = new();

    /// <summary>Completes when the first file's data is about to be sent.</summary>
    public Task Started => _started.Task;

    public override void OnStarted(FileTransfer file, long size, long resumedFrom)
    {
        _started.TrySetResult();
        if (!_release.Wait(TestTimeouts.Default))
            throw new TimeoutException("The test never released the held upload.");
    }

    public void Release() => _release.Set();

    public void Dispose()
    {
        _release.Set();
        _release.Dispose();
    }
}
