using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using static Ferry.Server.Interop.Libc;

namespace Ferry.Server.Exec;

/// <summary>
/// A pseudo-terminal for one command (docs/protocol.md §6.4; Linux): the master, which the server reads the command's
/// output from and writes its input to, and the slave, which becomes the command's stdin, stdout, stderr and
/// controlling terminal. Allocated with posix_openpt, grantpt, unlockpt and ptsname_r; the server never makes it its
/// own controlling terminal (O_NOCTTY).
/// </summary>
internal sealed class PseudoTerminal : IDisposable
{
    private readonly SafeFileHandle _master;
    private int _slave;

    private PseudoTerminal(SafeFileHandle master, int slave, string slavePath)
    {
        _master = master;
        _slave = slave;
        SlavePath = slavePath;
        // Two descriptors for one master: the command's input may be closed (stdin_end) while its output is still read.
        Output = new FileStream(master, FileAccess.Read, bufferSize: 0);
        // Close-on-exec like the master itself: a copy without it would be inherited by every command started while
        // this terminal is open, which could then read and type on another user's terminal.
        var writer = fcntlDuplicate((int)master.DangerousGetHandle(), FcntlDuplicateCloseOnExec, 0);
        if (writer < 0)
            throw new Win32Exception(Marshal.GetLastPInvokeError());
        Input = new FileStream(new SafeFileHandle(writer, ownsHandle: true), FileAccess.Write, bufferSize: 0);
    }

    /// <summary>The slave's path (/dev/pts/N), opened by the command's own start so that it becomes its controlling terminal.</summary>
    public string SlavePath { get; }

    /// <summary>The slave, opened without becoming anyone's controlling terminal: what a sandbox inherits as 0, 1 and 2. -1 once closed.</summary>
    public int Slave => _slave;

    /// <summary>What the terminal shows: everything the command writes, stdout and stderr merged. Ends (EIO) once no process holds the slave.</summary>
    public Stream Output { get; }

    /// <summary>What is typed on the terminal.</summary>
    public Stream Input { get; }

    /// <summary>Allocates a terminal of <paramref name="size"/>, in UTF-8 mode (so that erasing removes whole characters).</summary>
    /// <exception cref="Win32Exception">No terminal could be allocated (for example the system's limit on them).</exception>
    public static unsafe PseudoTerminal Open(TerminalSize size)
    {
        var master = posix_openpt(OpenReadWrite | OpenNoControllingTerminal | CloseOnExec);
        if (master < 0)
            throw new Win32Exception(Marshal.GetLastPInvokeError());
        var masterHandle = new SafeFileHandle(master, ownsHandle: true);
        var slave = -1;
        try
        {
            if (grantpt(master) != 0 || unlockpt(master) != 0)
                throw new Win32Exception(Marshal.GetLastPInvokeError());
            var name = stackalloc byte[128];
            var error = ptsname_r(master, name, 128);
            if (error != 0)
                throw new Win32Exception(error);
            var path = Marshal.PtrToStringUTF8((nint)name)!;
            slave = openFlags(name, OpenReadWrite | OpenNoControllingTerminal | CloseOnExec);
            if (slave < 0)
                throw new Win32Exception(Marshal.GetLastPInvokeError());
            Termios modes;
            if (tcgetattr(slave, &modes) == 0)
            {
                modes.InputFlags |= InputUtf8;
                _ = tcsetattr(slave, TcsaNow, &modes);
            }
            var terminal = new PseudoTerminal(masterHandle, slave, path);
            terminal.Resize(size);
            return terminal;
        }
        catch
        {
            if (slave >= 0)
                close(slave);
            masterHandle.Dispose();
            throw;
        }
    }

    /// <summary>Sets the window size; the kernel tells the foreground process group (SIGWINCH) when it changed.</summary>
    public unsafe void Resize(TerminalSize size)
    {
        var window = new WindowSize { Rows = size.Rows, Columns = size.Columns, XPixels = size.XPixels, YPixels = size.YPixels };
        if (!TryEnter(out var fd))
            return;
        try { _ = ioctlWindow(fd, TiocSetWindowSize, &window); }
        finally { _master.DangerousRelease(); }
    }

    /// <summary>The terminal's foreground process group (the job the user is at), or 0 when there is none.</summary>
    public unsafe int ForegroundGroup()
    {
        if (!TryEnter(out var fd))
            return 0;
        try
        {
            var group = 0;
            return ioctl(fd, TiocGetProcessGroup, &group) == 0 ? group : 0;
        }
        finally { _master.DangerousRelease(); }
    }

    /// <summary>Bytes the command wrote that have not been read yet.</summary>
    public long UnreadBytes()
    {
        if (!TryEnter(out var fd))
            return 0;
        try { return Interop.Libc.UnreadBytes(fd); }
        finally { _master.DangerousRelease(); }
    }

    /// <summary>Closes the server's own slave once the command has it: from then on only the command's processes keep it open.</summary>
    public void CloseSlave()
    {
        var slave = Interlocked.Exchange(ref _slave, -1);
        if (slave >= 0)
            close(slave);
    }

    public void Dispose()
    {
        CloseSlave();
        Input.Dispose();
        Output.Dispose();
    }

    /// <summary>The master's descriptor, kept from being closed and reused until <see cref="SafeHandle.DangerousRelease"/>; false once closed.</summary>
    private bool TryEnter(out int fd)
    {
        var added = false;
        try
        {
            _master.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
        }
        fd = added ? (int)_master.DangerousGetHandle() : -1;
        return added;
    }
}
