using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Ferry.Server.Interop;

namespace Ferry.Server.Exec;

/// <summary>
/// A command started as the leader of a new session and process group, so that killing the group reaches every child
/// it forked, including ones that left the tree .NET can see. On Linux the command is started with posix_spawn and
/// POSIX_SPAWN_SETSID (ProcessGroup.Posix.cs); elsewhere through <see cref="Process"/> (ProcessGroup.Portable.cs).
/// </summary>
/// <remarks>
/// A sandboxed command (<see cref="CommandSandbox"/>) is started through bubblewrap: the process started here is bwrap
/// itself, whose child is the init of the command's PID namespace, whose child is the command. Killing bwrap kills the
/// init (--die-with-parent), and the end of a namespace's init kills everything in the namespace, so no descendant of
/// the command survives it, whatever session it made for itself. Interrupts go to the command's own group instead.
/// </remarks>
internal sealed partial class ProcessGroup : IDisposable
{
    private readonly Process? _process;
    private readonly Task<ProcessExit> _exit;
    private readonly bool _sandboxed;
    private int _disposed;

    private ProcessGroup(int id, Stream input, Stream output, Stream error, Task<ProcessExit> exit, Process? process, bool sandboxed,
        PseudoTerminal? terminal = null)
    {
        Terminal = terminal;
        Id = id;
        StandardInput = input;
        StandardOutput = output;
        StandardError = error;
        _exit = exit;
        _process = process;
        _sandboxed = sandboxed;
    }

    /// <summary>The leader's process id, which is also the group id.</summary>
    public int Id { get; }

    public Stream StandardInput { get; }
    public Stream StandardOutput { get; }
    public Stream StandardError { get; }

    /// <summary>The command's terminal when it runs on one: then stdin and stdout are its master, and stderr is empty.</summary>
    public PseudoTerminal? Terminal { get; }

    public bool HasExited => _exit.IsCompleted;

    /// <summary>The exit code once exited: the status, or 128 + N for a command ended by signal N.</summary>
    public int ExitCode => Exit.ShellCode;

    /// <summary>How the leader ended, once it has.</summary>
    public ProcessExit Exit => !_exit.IsCompleted ? throw new InvalidOperationException("The command has not exited.")
        : _sandboxed ? ProcessExit.OfSandbox(_exit.Result) : _exit.Result;

    public Task WaitForExitAsync(CancellationToken cancellationToken) => _exit.WaitAsync(cancellationToken);

    /// <summary>
    /// Starts <paramref name="argv"/>; <paramref name="sandboxed"/> says that argv starts bubblewrap (see remarks). With a
    /// <paramref name="terminal"/> size the command runs on a new pseudo-terminal (Linux only).
    /// </summary>
    public static ProcessGroup Start(IReadOnlyList<string> argv, string workingDirectory, IReadOnlyDictionary<string, string> environment, bool sandboxed = false,
        TerminalSize? terminal = null)
    {
        if (OperatingSystem.IsLinux())
            return Spawn(argv, workingDirectory, environment, sandboxed, terminal);
        if (terminal is not null)
            throw new Win32Exception("Commands run on a terminal only on a Linux server.");
        return StartPortable(argv, workingDirectory, environment);
    }

    /// <summary>
    /// Bytes written to stdout and stderr that have not been read yet (Linux; 0 elsewhere, and once the pipes are
    /// closed): output that exists already, as opposed to output a process still holding the pipes might write later.
    /// </summary>
    public long UnreadOutputBytes()
    {
        if (!OperatingSystem.IsLinux())
            return 0;
        if (Terminal is not null)
            return Terminal.UnreadBytes();
        return UnreadBytes(StandardOutput) + UnreadBytes(StandardError);

        static long UnreadBytes(Stream stream)
        {
            var added = false;
            SafeHandle? handle = null;
            try
            {
                if (stream is not System.IO.Pipes.PipeStream pipe)
                    return 0;
                handle = pipe.SafePipeHandle;
                handle.DangerousAddRef(ref added);
                return Libc.UnreadBytes((int)handle.DangerousGetHandle());
            }
            catch (Exception ex) when (ex is ObjectDisposedException or InvalidOperationException)
            {
                return 0; // closed meanwhile: nothing more will be read from it anyway
            }
            finally
            {
                if (added)
                    handle!.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Sends signal number <paramref name="signal"/> (one of <see cref="Libc.SignalByName"/>'s): KILL to everything, any
    /// other to the command's group, or on a terminal to its foreground process group, as typing it there would.
    /// </summary>
    public void Signal(int signal)
    {
        if (OperatingSystem.IsLinux() && signal != Libc.SigKill)
        {
            // In a sandbox bwrap would die of the interrupt and take the command with it at once; the command's own
            // group (it leads one inside the sandbox) gets the signal instead, as a terminal would deliver it. The
            // terminal's foreground group belongs to the command's session, which only the command's processes are in.
            var foreground = Terminal?.ForegroundGroup() ?? 0;
            var target = foreground > 0 ? foreground : _sandboxed ? SandboxedCommandId() : Id;
            if (target > 0)
                _ = Libc.kill(-target, signal);
        }
        if (signal == Libc.SigKill)
            KillTree();
    }

    /// <summary>
    /// Does to a command on a terminal what closing that terminal does: SIGHUP, then SIGCONT (a stopped job must wake to
    /// act on it), to the group of the session's leader (the command) and to the terminal's foreground group. A shell
    /// passes it on to its jobs. No-op without a terminal or once the command has exited.
    /// </summary>
    public void HangUp()
    {
        if (!OperatingSystem.IsLinux() || Terminal is null || HasExited)
            return;
        var leader = _sandboxed ? SandboxedCommandId() : Id;
        var foreground = Terminal.ForegroundGroup();
        foreach (var target in (ReadOnlySpan<int>)[leader, foreground == leader ? 0 : foreground])
        {
            if (target <= 0)
                continue;
            _ = Libc.kill(-target, Libc.SigHup);
            _ = Libc.kill(-target, Libc.SigCont);
        }
    }

    /// <summary>Kills the group and, as a fallback, every descendant .NET can find.</summary>
    public void KillTree()
    {
        // The group id stays ours until the leader is reaped, and the group outlives its leader while members remain. A
        // sandbox leaves nothing behind its leader, so once that has been reaped its id may already be someone else's.
        if (OperatingSystem.IsLinux() && !(_sandboxed && HasExited))
            _ = Libc.kill(-Id, Libc.SigKill);
        if (HasExited || _sandboxed)
            return; // a sandbox's namespace dies with its init, which dies with bwrap
        try
        {
            // Descendants that started sessions of their own are out of the group; walk the tree while the leader's pid
            // cannot have been reused (it is reaped only by us).
            using var leader = _process is null ? Process.GetProcessById(Id) : null;
            (_process ?? leader)!.Kill(entireProcessTree: true);
        }
        catch (ArgumentException) { }
        catch (InvalidOperationException) { }
        catch (Win32Exception) { }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        KillTree();
        // Close all three pipes now rather than leave them to a finalizer: a server running thousands of commands would
        // otherwise hold their descriptors until the next collection (and Process.Dispose treats read streams as the
        // reader's to close).
        CloseQuietly(StandardInput);
        CloseQuietly(StandardOutput);
        CloseQuietly(StandardError);
        Terminal?.Dispose();
        _process?.Dispose();
    }

    /// <summary>
    /// The host pid of the sandboxed command: the child of the namespace's init, which is bwrap's only child. 0 when the
    /// command has already gone.
    /// </summary>
    private int SandboxedCommandId()
    {
        var init = ChildOf(Id);
        return init > 0 ? ChildOf(init) : 0;
    }

    private static int ChildOf(int pid)
    {
        try
        {
            var children = File.ReadAllText($"/proc/{pid}/task/{pid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return children.Length > 0 && int.TryParse(children[0], out var child) ? child : 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private static void CloseQuietly(IDisposable stream)
    {
        try { stream.Dispose(); }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
    }
}
