using System.ComponentModel;
using System.IO.Pipes;
using System.Runtime.InteropServices;
using Ferry.Server.Interop;
using Microsoft.Win32.SafeHandles;
using static Ferry.Server.Interop.Libc;

namespace Ferry.Server.Exec;

/// <summary>
/// Linux: posix_spawn with POSIX_SPAWN_SETSID — one clone and one exec, where going through setsid(1) cost a second
/// exec (about half of a <c>true</c> round trip).
/// </summary>
internal sealed partial class ProcessGroup
{
    /// <summary>Where programs named without a slash are looked up: the PATH of the documented environment.</summary>
    internal static readonly string[] SearchPath = ["/usr/local/bin", "/usr/bin", "/bin"];

    /// <summary>Set once glibc turned out to lack posix_spawn_file_actions_addclosefrom_np.</summary>
    private static bool s_closeFromMissing;

    private static ProcessGroup Spawn(IReadOnlyList<string> argv, string workingDirectory, IReadOnlyDictionary<string, string> environment, bool sandboxed,
        TerminalSize? terminal)
    {
        if (!sandboxed)
            return SpawnHere(argv, workingDirectory, environment, sandboxed, terminal, exit: null);

        // bwrap --die-with-parent ties the sandbox to the thread that started it (PR_SET_PDEATHSIG follows the parent
        // thread, not the process): a pool thread that retired would kill the command. So the sandbox is started by the
        // thread that waits for it, which lives exactly as long as the command does.
        ProcessGroup? group = null;
        Exception? failure = null;
        using var started = new ManualResetEventSlim();
        var exit = new TaskCompletionSource<ProcessExit>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                group = SpawnHere(argv, workingDirectory, environment, sandboxed, terminal, exit);
            }
            catch (Exception ex)
            {
                failure = ex;
                return;
            }
            finally
            {
                started.Set();
            }
            WaitFor(group.Id, exit);
        }, maxStackSize: 256 * 1024)
        {
            IsBackground = true,
            Name = "ferry exec wait",
        };
        thread.Start();
        started.Wait();
        if (failure is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        return group!;
    }

    /// <summary>
    /// Spawns from the calling thread; <paramref name="exit"/> is completed by the caller's own wait, or null to start a
    /// waiting thread. With a <paramref name="terminal"/> the command's 0, 1 and 2 are the slave of a new pseudo-terminal
    /// instead of three pipes: unconfined, the child (a session leader through POSIX_SPAWN_SETSID, which glibc applies
    /// before the file actions) opens the slave by its path and so acquires it as its controlling terminal; in a sandbox
    /// bwrap only inherits the slave, and the command inside takes it as its controlling terminal (setsid --ctty).
    /// </summary>
    private static unsafe ProcessGroup SpawnHere(IReadOnlyList<string> argv, string workingDirectory, IReadOnlyDictionary<string, string> environment, bool sandboxed,
        TerminalSize? terminal, TaskCompletionSource<ProcessExit>? exit)
    {
        var program = Resolve(argv[0]);
        Span<int> input = stackalloc int[2];
        Span<int> output = stackalloc int[2];
        Span<int> error = stackalloc int[2];
        input.Fill(-1);
        output.Fill(-1);
        error.Fill(-1);
        // posix_spawn_file_actions_t is 80 bytes and posix_spawnattr_t 336 in glibc; sigset_t 128. Room to spare.
        var actions = NativeMemory.AllocZeroed(512);
        var attributes = NativeMemory.AllocZeroed(1024);
        var signals = NativeMemory.AllocZeroed(256);
        var strings = new List<nint>();
        var started = false;
        PseudoTerminal? pty = null;
        try
        {
            CheckResult(posix_spawn_file_actions_init(actions));
            if (terminal is { } size)
            {
                pty = PseudoTerminal.Open(size);
                if (sandboxed)
                    CheckResult(posix_spawn_file_actions_adddup2(actions, pty.Slave, 0));
                else
                    CheckResult(posix_spawn_file_actions_addopen(actions, 0, (byte*)Utf8(pty.SlavePath, strings), OpenReadWrite, 0));
                CheckResult(posix_spawn_file_actions_adddup2(actions, 0, 1));
                CheckResult(posix_spawn_file_actions_adddup2(actions, 0, 2));
            }
            else
            {
                Check(pipe2(input, CloseOnExec));
                Check(pipe2(output, CloseOnExec));
                Check(pipe2(error, CloseOnExec));
                CheckResult(posix_spawn_file_actions_adddup2(actions, input[0], 0));
                CheckResult(posix_spawn_file_actions_adddup2(actions, output[1], 1));
                CheckResult(posix_spawn_file_actions_adddup2(actions, error[1], 2));
            }
            CloseInheritedDescriptors(actions);
            var directory = Utf8(workingDirectory, strings);
            CheckResult(posix_spawn_file_actions_addchdir_np(actions, (byte*)directory));

            // The runtime ignores SIGPIPE and blocks signals on its threads; a command must start with the defaults.
            CheckResult(posix_spawnattr_init(attributes));
            CheckResult(posix_spawnattr_setflags(attributes, (short)(SpawnSetSid | SpawnSetSigMask | SpawnSetSigDefault)));
            Check(sigemptyset(signals));
            CheckResult(posix_spawnattr_setsigmask(attributes, signals));
            Check(sigfillset(signals));
            CheckResult(posix_spawnattr_setsigdefault(attributes, signals));

            var args = stackalloc nint[argv.Count + 1];
            for (var i = 0; i < argv.Count; i++)
                args[i] = Utf8(argv[i], strings);
            args[argv.Count] = 0;
            var env = stackalloc nint[environment.Count + 1];
            var e = 0;
            foreach (var (name, value) in environment)
                env[e++] = Utf8($"{name}={value}", strings);
            env[e] = 0;

            int pid;
            var programName = Utf8(program, strings);
            var result = posix_spawn(&pid, (byte*)programName, actions, attributes, (byte**)args, (byte**)env);
            if (result != 0)
                throw new Win32Exception(result);
            started = true;

            if (pty is not null)
            {
                pty.CloseSlave();
                return new ProcessGroup(pid, pty.Input, pty.Output, Stream.Null, exit?.Task ?? Reap(pid), process: null, sandboxed, pty);
            }
            close(input[0]);
            close(output[1]);
            close(error[1]);
            var group = new ProcessGroup(pid,
                Wrap(input[1], PipeDirection.Out), Wrap(output[0], PipeDirection.In), Wrap(error[0], PipeDirection.In),
                exit?.Task ?? ChildReaper.TryWatch(pid) ?? Reap(pid), process: null, sandboxed);
            return group;
        }
        finally
        {
            posix_spawn_file_actions_destroy(actions);
            posix_spawnattr_destroy(attributes);
            NativeMemory.Free(actions);
            NativeMemory.Free(attributes);
            NativeMemory.Free(signals);
            foreach (var s in strings)
                Marshal.FreeCoTaskMem(s);
            if (!started)
            {
                pty?.Dispose();
                foreach (var fd in (ReadOnlySpan<int>)[input[0], input[1], output[0], output[1], error[0], error[1]])
                {
                    if (fd >= 0)
                        close(fd);
                }
            }
        }
    }

    /// <summary>
    /// The command gets 0, 1 and 2 and nothing else. Every descriptor the server opens is close-on-exec already; this
    /// also covers what it inherited without that flag (from its own parent) and what a library opened carelessly. A
    /// glibc older than 2.34 lacks the call, and then the close-on-exec flags alone keep descriptors from commands.
    /// </summary>
    private static unsafe void CloseInheritedDescriptors(void* actions)
    {
        if (Volatile.Read(ref s_closeFromMissing))
            return;
        try
        {
            CheckResult(posix_spawn_file_actions_addclosefrom_np(actions, 3));
        }
        catch (EntryPointNotFoundException)
        {
            Volatile.Write(ref s_closeFromMissing, true);
        }
    }

    /// <summary>A program named without a slash is looked up in the command's PATH, not the server's.</summary>
    internal static string Resolve(string program)
    {
        if (program.Contains('/'))
            return program;
        foreach (var directory in SearchPath)
        {
            var candidate = Path.Combine(directory, program);
            if (File.Exists(candidate) && access(candidate, ExecuteOk) == 0)
                return candidate;
        }
        throw new Win32Exception(Enoent, $"'{program}' was not found in {string.Join(':', SearchPath)}");
    }

    private static Stream Wrap(int fd, PipeDirection direction) =>
        new AnonymousPipeClientStream(direction, new SafePipeHandle(fd, ownsHandle: true));

    /// <summary>
    /// Waits for the leader on a thread of its own (where <see cref="ChildReaper"/> cannot: no pidfds): waitpid on this
    /// one pid never takes a child that the runtime's own SIGCHLD handling (for Process objects) is waiting for.
    /// </summary>
    private static Task<ProcessExit> Reap(int pid)
    {
        var exit = new TaskCompletionSource<ProcessExit>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() => WaitFor(pid, exit), maxStackSize: 64 * 1024)
        {
            IsBackground = true,
            Name = "ferry exec wait",
        };
        thread.Start();
        return exit.Task;
    }

    /// <summary>Blocks until <paramref name="pid"/> exits and completes <paramref name="exit"/> with its status or signal.</summary>
    private static unsafe void WaitFor(int pid, TaskCompletionSource<ProcessExit> exit)
    {
        int status;
        while (true)
        {
            var r = waitpid(pid, &status, 0);
            if (r == pid)
                break;
            var errno = Marshal.GetLastPInvokeError();
            if (r == -1 && errno == Eintr)
                continue;
            exit.TrySetResult(ProcessExit.Unknown);
            return;
        }
        exit.TrySetResult(new ProcessExit(ExitStatusOf(status), TermSignalOf(status), CoreDumpedOf(status)));
    }

    private static nint Utf8(string value, List<nint> strings)
    {
        if (value.Contains('\0'))
            throw new ArgumentException("A NUL character cannot be passed to a command.");
        var p = Marshal.StringToCoTaskMemUTF8(value);
        strings.Add(p);
        return p;
    }

    private static void Check(int result)
    {
        if (result != 0)
            throw new Win32Exception(Marshal.GetLastPInvokeError());
    }

    private static void CheckResult(int error)
    {
        if (error != 0)
            throw new Win32Exception(error);
    }

}
