using System.Diagnostics;

namespace Ferry.IntegrationTests;

/// <summary>
/// Polls a folder every millisecond for the whole test. Whenever the final name exists it must have the full length
/// and the source's bytes (sampled at the start, middle and end); any other entry must be a hidden part file.
/// </summary>
internal sealed class FinalNameWatcher : IDisposable
{
    private const int Sample = 64 * 1024;

    private readonly string _directory;
    private readonly string _finalName;
    private readonly long _size;
    private readonly (long Offset, byte[] Bytes)[] _samples;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly List<string> _violations = [];
    private int _polls;
    private int _sightings;

    public FinalNameWatcher(string directory, string finalName, string source)
    {
        _directory = directory;
        _finalName = finalName;
        _size = new FileInfo(source).Length;
        using (var handle = File.OpenHandle(source))
        {
            _samples = new[] { 0L, _size / 2, _size - Sample }.Select(offset =>
            {
                var bytes = new byte[Sample];
                RandomAccess.Read(handle, bytes, offset);
                return (offset, bytes);
            }).ToArray();
        }
        // A thread of its own: the thread pool may be busy, and a slow poll could miss a brief partial file.
        _thread = new Thread(Poll) { IsBackground = true, Name = "final-name watcher" };
        _thread.Start();
    }

    private void Poll()
    {
        var buffer = new byte[Sample];
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                foreach (var entry in Directory.EnumerateFileSystemEntries(_directory))
                {
                    var name = Path.GetFileName(entry);
                    if (name == _finalName)
                        Check(entry, buffer);
                    else if (!name.StartsWith(".ferry-part.", StringComparison.Ordinal))
                        Violation($"unexpected entry '{name}'");
                }
            }
            catch (IOException)
            {
                // Renamed or removed between listing and reading: the next poll looks again.
            }
            Interlocked.Increment(ref _polls);
            Thread.Sleep(1);
        }
    }

    private void Check(string path, byte[] buffer)
    {
        using var handle = File.OpenHandle(path);
        var length = RandomAccess.GetLength(handle);
        if (length != _size)
        {
            Violation($"'{_finalName}' seen with {length} of {_size} bytes");
            return;
        }
        foreach (var (offset, expected) in _samples)
        {
            if (RandomAccess.Read(handle, buffer, offset) != Sample || !buffer.AsSpan().SequenceEqual(expected))
                Violation($"'{_finalName}' seen at full length with wrong bytes at offset {offset}");
        }
        Interlocked.Increment(ref _sightings);
    }

    private void Violation(string what)
    {
        lock (_violations)
        {
            if (_violations.Count < 10)
                _violations.Add(what);
        }
    }

    /// <summary>Stops once the watcher has seen the finished file, then fails on anything wrong it saw.</summary>
    public async Task AssertOnlyEverSawTheCompleteFileAsync()
    {
        var deadline = Stopwatch.StartNew();
        while (Volatile.Read(ref _sightings) == 0 && deadline.Elapsed < TimeSpan.FromSeconds(5))
            await Task.Delay(5);
        _stop.Cancel();
        _thread.Join();
        Assert.True(_polls > 100, $"the watcher polled only {_polls} times");
        Assert.True(_sightings > 0, "the watcher never saw the finished file");
        lock (_violations)
            Assert.True(_violations.Count == 0, string.Join("; ", _violations));
    }

    /// <summary>For a transfer that failed: stops, then fails if the final name ever existed, complete or not.</summary>
    public void AssertNeverSawTheFile()
    {
        _stop.Cancel();
        _thread.Join();
        Assert.True(_polls > 10, $"the watcher polled only {_polls} times");
        lock (_violations)
            Assert.True(_violations.Count == 0, string.Join("; ", _violations));
        Assert.True(_sightings == 0, $"'{_finalName}' appeared although the transfer failed");
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _stop.Dispose();
    }
}
