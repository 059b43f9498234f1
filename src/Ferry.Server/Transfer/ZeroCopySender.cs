using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Server.Transfer;

/// <summary>
/// Sends a byte range of a file straight from the page cache to a TCP socket with Linux sendfile(2): no copy through
/// user space. .NET's Socket.SendFile takes a path and always sends the whole file, which cannot honour an offset or a
/// length fixed when the frame was declared; sendfile with an explicit offset and count can.
/// </summary>
internal static partial class ZeroCopySender
{
    private const int Eagain = 11;
    private const int Eintr = 4;
    private const short PollOut = 0x004;

    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>Sends exactly <paramref name="count"/> bytes from <paramref name="offset"/>, or throws.</summary>
    public static Task SendAsync(Socket socket, SafeFileHandle file, long offset, long count, IProgress<long>? progress, CancellationToken cancellationToken) =>
        // The socket is non-blocking; the loop waits for writability with poll(2), so it gets a thread of its own.
        Task.Factory.StartNew(() => Send(socket, file, offset, count, progress, cancellationToken),
            cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static void Send(Socket socket, SafeFileHandle file, long offset, long count, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var addedSocket = false;
        var addedFile = false;
        socket.SafeHandle.DangerousAddRef(ref addedSocket);
        file.DangerousAddRef(ref addedFile);
        try
        {
            var socketFd = (int)socket.SafeHandle.DangerousGetHandle();
            var fileFd = (int)file.DangerousGetHandle();
            var position = offset;
            var end = offset + count;
            while (position < end)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var want = (nint)Math.Min(end - position, 1L << 30);
                var sent = sendfile(socketFd, fileFd, ref position, want);
                if (sent > 0)
                {
                    progress?.Report(sent);
                    continue;
                }
                var errno = Marshal.GetLastPInvokeError();
                if (sent == 0)
                    throw new IOException($"The file ended {end - position} bytes early while being sent.");
                if (errno == Eintr)
                    continue;
                if (errno != Eagain)
                    throw new IOException($"sendfile failed with errno {errno}.", new SocketException(errno));
                WaitWritable(socketFd, cancellationToken);
            }
        }
        finally
        {
            if (addedFile) file.DangerousRelease();
            if (addedSocket) socket.SafeHandle.DangerousRelease();
        }
    }

    private static void WaitWritable(int fd, CancellationToken cancellationToken)
    {
        var poll = new PollFd { Fd = fd, Events = PollOut };
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Wake up now and then to notice cancellation and a peer that stopped reading.
            var ready = Poll(ref poll, 1, 250);
            if (ready > 0)
            {
                if ((poll.Revents & PollOut) != 0)
                    return;
                throw new IOException("The connection failed while a file was being sent.");
            }
            if (ready < 0 && Marshal.GetLastPInvokeError() != Eintr)
                throw new IOException($"poll failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint sendfile(int outFd, int inFd, ref long offset, nint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollFd fds, nuint count, int timeoutMs);
}
