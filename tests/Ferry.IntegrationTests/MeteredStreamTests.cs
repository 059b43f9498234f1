using System.Diagnostics.Metrics;
using System.Threading.Tasks.Sources;
using Ferry.Server.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace Ferry.IntegrationTests;

/// <summary>
/// The stream that counts a connection's bytes keeps the ValueTask contract of the socket read it wraps: each read's
/// ValueTask is consumed exactly once. A socket read that completes just after it was issued (common over slow links)
/// once had its result read by the counter and then again by the caller, which failed or read another read's result.
/// <see cref="SlowLinkTests"/> runs the same path over a real relay; this test makes the timing certain.
/// </summary>
public class MeteredStreamTests
{
    [Fact]
    public async Task A_read_that_completed_before_the_caller_looked_is_consumed_once_and_counted()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new FerryMetrics(services.GetRequiredService<IMeterFactory>());
        var inner = new CompletedOnceStream(bytesPerRead: 4096);
        await using var metered = new MeteredStream(inner, metrics);
        var buffer = new byte[64 * 1024];

        for (var i = 0; i < 3; i++)
            Assert.Equal(4096, await metered.ReadAsync(buffer));

        Assert.Equal(3, inner.Reads);
        Assert.Equal(3, inner.Consumed);
    }

    /// <summary>
    /// Answers every read with a ValueTask backed by a reusable source, completed before it is returned, that allows
    /// one GetResult per read, as a socket's pooled read operation does.
    /// </summary>
    private sealed class CompletedOnceStream(int bytesPerRead) : Stream, IValueTaskSource<int>
    {
        private ManualResetValueTaskSourceCore<int> _core;

        public int Reads { get; private set; }
        public int Consumed { get; private set; }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Reads++;
            _core.Reset();
            _core.SetResult(Math.Min(bytesPerRead, buffer.Length));
            return new ValueTask<int>(this, _core.Version);
        }

        public int GetResult(short token)
        {
            var result = _core.GetResult(token);
            Consumed++;
            _core.Reset(); // hands the operation back for the next read: the old token is no longer valid
            return result;
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
