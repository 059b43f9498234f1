using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using static Ferry.Server.Interop.Libc;

namespace Ferry.Server.Exec;

/// <summary>
/// Waits for the unconfined commands' leaders (Linux 5.3+): each one's pidfd goes into one epoll set that a single
/// long-lived thread waits on, and a readable pidfd (the process exited) is reaped with waitpid on its own pid. Starting
/// a thread per command to block in waitpid cost a thread creation (and the start handshake with it) on every command's
/// critical path. Sandboxed commands keep their own thread (see ProcessGroup.Posix.cs: bwrap dies with its thread).
/// </summary>
internal static unsafe class ChildReaper
{
    private const int MaxEvents = 64;

    private static readonly Lock s_gate = new();
    private static readonly ConcurrentDictionary<int, (int Pid, TaskCompletionSource<ProcessExit> Exit)> s_waiting = new();
    private static int s_epoll = -1; // -1: not started yet; -2: this kernel cannot (no pidfd or epoll)

    /// <summary>
    /// The exit of <paramref name="pid"/>, a child of this process that nothing else reaps; null when this kernel has no
    /// pidfds (the caller then waits another way).
    /// </summary>
    public static Task<ProcessExit>? TryWatch(int pid)
    {
        var epoll = EpollOrUnavailable();
        if (epoll < 0)
            return null;
        var pidfd = (int)pidfd_syscall(SysPidfdOpen, pid, 0);
        if (pidfd < 0)
            return null;
        var exit = new TaskCompletionSource<ProcessExit>(TaskCreationOptions.RunContinuationsAsynchronously);
        s_waiting[pidfd] = (pid, exit);
        var ev = stackalloc byte[16];
        new Span<byte>(ev, 16).Clear();
        *(uint*)ev = EpollIn | EpollOneShot;
        *(ulong*)(ev + (EpollEventSize - 8)) = (ulong)pidfd;
        if (epoll_ctl(epoll, EpollControlAdd, pidfd, ev) != 0)
        {
            s_waiting.TryRemove(pidfd, out _);
            close(pidfd);
            return null;
        }
        return exit.Task;
    }

    private static int EpollOrUnavailable()
    {
        var epoll = Volatile.Read(ref s_epoll);
        if (epoll != -1)
            return epoll;
        lock (s_gate)
        {
            if (s_epoll != -1)
                return s_epoll;
            // Probe pidfd_open on this process itself: a kernel older than 5.3 says ENOSYS.
            var probe = (int)pidfd_syscall(SysPidfdOpen, Environment.ProcessId, 0);
            if (probe < 0)
                return s_epoll = -2;
            close(probe);
            epoll = epoll_create1(EpollCloseOnExec);
            if (epoll < 0)
                return s_epoll = -2;
            new Thread(() => Run(epoll), maxStackSize: 128 * 1024)
            {
                IsBackground = true,
                Name = "ferry exec reaper",
            }.Start();
            Volatile.Write(ref s_epoll, epoll);
            return epoll;
        }
    }

    private static void Run(int epoll)
    {
        var size = EpollEventSize;
        var events = (byte*)NativeMemory.AllocZeroed((nuint)(MaxEvents * size));
        while (true)
        {
            var n = epoll_wait(epoll, events, MaxEvents, -1);
            if (n < 0)
            {
                if (Marshal.GetLastPInvokeError() == Eintr)
                    continue;
                return; // cannot happen with a valid epoll descriptor; the commands' exits would go unnoticed
            }
            for (var i = 0; i < n; i++)
            {
                var pidfd = (int)*(ulong*)(events + (i * size) + (size - 8));
                if (s_waiting.TryRemove(pidfd, out var waiter))
                    Reap(pidfd, waiter.Pid, waiter.Exit);
            }
        }
    }

    /// <summary>The pidfd is readable: the process has exited, so waitpid returns at once.</summary>
    private static void Reap(int pidfd, int pid, TaskCompletionSource<ProcessExit> exit)
    {
        int status;
        int r;
        do
        {
            r = waitpid(pid, &status, 0);
        }
        while (r == -1 && Marshal.GetLastPInvokeError() == Eintr);
        close(pidfd);
        exit.TrySetResult(r == pid ? new ProcessExit(ExitStatusOf(status), TermSignalOf(status), CoreDumpedOf(status)) : ProcessExit.Unknown);
    }
}
