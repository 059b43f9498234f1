using System.Runtime.InteropServices;
using static Ferry.Client.Interop.Libc;

namespace Ferry.Client.Exec;

/// <summary>
/// Standard input read straight from descriptor 0 (no console layer in between to change the terminal's modes or keep
/// bytes back), waiting with poll so that a read can be cancelled: when a remote command ends, no thread stays blocked
/// on the keyboard and swallows the next key.
/// </summary>
internal sealed class TerminalInputStream : Stream
{
    private const int PollMilliseconds = 100;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count), CancellationToken.None);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        new(Task.Run(() => Read(buffer.Span, cancellationToken), cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private static unsafe int Read(Span<byte> buffer, CancellationToken cancellationToken)
    {
        if (buffer.IsEmpty)
            return 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var fd = new PollFd { Fd = StdinFd, Events = PollIn };
            var ready = poll(&fd, 1, PollMilliseconds);
            if (ready < 0 && Marshal.GetLastPInvokeError() == Eintr)
                continue;
            if (ready < 0)
                throw new IOException($"Standard input cannot be read (errno {Marshal.GetLastPInvokeError()}).");
            if (ready == 0)
                continue;
            fixed (byte* p = buffer)
            {
                var n = read(StdinFd, p, (nuint)buffer.Length);
                if (n >= 0)
                    return (int)n;
                var errno = Marshal.GetLastPInvokeError();
                if (errno is Eintr or Eagain)
                    continue;
                throw new IOException($"Standard input cannot be read (errno {errno}).");
            }
        }
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
