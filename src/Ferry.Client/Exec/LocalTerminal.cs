using System.Runtime.InteropServices;
using static Ferry.Client.Interop.Libc;

namespace Ferry.Client.Exec;

/// <summary>
/// This process's own terminal while a remote command runs on one (Linux, and other systems with the same termios):
/// raw mode, so that every key (Ctrl-C, Ctrl-Z, Ctrl-\ too) goes to the remote terminal as a byte and the remote side
/// echoes; and the way back. <see cref="Restore"/> may be called from any thread, any number of times, including
/// from a signal handler, and puts back exactly the modes found.
/// </summary>
internal sealed class LocalTerminal : IDisposable
{
    private readonly Termios _saved;
    private int _raw;

    private LocalTerminal(Termios saved) => _saved = saved;

    /// <summary>Whether standard input and standard output are both terminals.</summary>
    public static bool IsInteractive => !OperatingSystem.IsWindows() && isatty(StdinFd) == 1 && isatty(StdoutFd) == 1;

    /// <summary>Whether standard input is a terminal.</summary>
    public static bool InputIsTerminal => !OperatingSystem.IsWindows() && isatty(StdinFd) == 1;

    /// <summary>The size of the window standard output (else standard input) shows in, or null when neither is a terminal.</summary>
    public static unsafe TerminalWindow? CurrentWindow()
    {
        if (OperatingSystem.IsWindows())
            return null;
        WindowSize size;
        if (ioctl(StdoutFd, TiocGetWindowSize, &size) != 0 && ioctl(StdinFd, TiocGetWindowSize, &size) != 0)
            return null;
        return new TerminalWindow(size.Columns, size.Rows, size.XPixels, size.YPixels);
    }

    /// <summary>Puts standard input's terminal in raw mode; null when it is not a terminal.</summary>
    public static unsafe LocalTerminal? EnterRawMode()
    {
        if (!InputIsTerminal)
            return null;
        Termios saved;
        if (tcgetattr(StdinFd, &saved) != 0)
            return null;
        var terminal = new LocalTerminal(saved);
        terminal.Raw();
        return terminal;
    }

    /// <summary>Raw mode again (after <see cref="Restore"/>, for example once a local prompt is done).</summary>
    public unsafe void Raw()
    {
        var raw = _saved;
        cfmakeraw(&raw);
        if (tcsetattr(StdinFd, TcsaDrain, &raw) != 0)
            throw new IOException($"The terminal could not be put in raw mode (errno {Marshal.GetLastPInvokeError()}).");
        Volatile.Write(ref _raw, 1);
    }

    /// <summary>Puts back the modes found; does nothing when they already are.</summary>
    public unsafe void Restore()
    {
        if (Interlocked.Exchange(ref _raw, 0) == 0)
            return;
        var saved = _saved;
        _ = tcsetattr(StdinFd, TcsaDrain, &saved);
    }

    public void Dispose() => Restore();
}
