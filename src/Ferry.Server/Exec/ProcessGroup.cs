using System.ComponentModel;
using System.Diagnostics;
using System.IO.Pipes;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Server.Exec;

/// <summary>
/// A command started as the leader of a new session and process group, so that killing the group reaches every child
/// it forked, including ones that left the tree .NET can see. On Linux the command is started with posix_spawn and
/// POSIX_SPAWN_SETSID: one clone and one exec, where going through setsid(1) cost a second exec (about half of a
/// <c>true</c> round trip).
/// </summary>
internal sealed partial class ProcessGroup : IDisposable
{
    private const int SigKill = 9;
    private const int SigTerm = 15;
    private const int SigInt = 2;

    /// <summary>Where programs named without a slash are looked up: the PATH of the documented environment.</summary>
    private static readonly string[] SearchPath = ["/usr/local/bin", "/usr/bin", "/bin"];

    private readonly Process? _process;
    private readonly Task<int> _exit;
    private int _disposed;

    private ProcessGroup(int id, Stream input, Stream output, Stream error, Task<int> exit, Process? process)
    {
        Id = id;
        StandardInput = input;
        StandardOutput = output;
        StandardError = error;
        _exit = exit;
        _process = process;
    }

    /// <summary>The leader's process id, which is also the group id.</summary>
    public int Id { get; }

    public Stream StandardInput { get; }
    public Stream StandardOutput { get; }
    public Stream StandardError { get; }

    public bool HasExited => _exit.IsCompleted;

    /// <summary>The exit code once exited: the status, or 128 + N for a command ended by signal N.</summary>
    public int ExitCode => _exit.IsCompleted ? _exit.Result : throw new InvalidOperationException("The command has not exited.");

    public Task WaitForExitAsync(CancellationToken cancellationToken) => _exit.WaitAsync(cancellationToken);

    public static ProcessGroup Start(IReadOnlyList<string> argv, string workingDirectory, IReadOnlyDictionary<string, string> environment) =>
        OperatingSystem.IsLinux() ? Spawn(argv, workingDirectory, environment) : StartPortable(argv, workingDirectory, environment);

    /// <summary>Sends a signal by name (INT, TERM, KILL) to the whole group.</summary>
    public void Signal(string name)
    {
        var signal = name switch { "INT" => SigInt, "TERM" => SigTerm, _ => SigKill };
        if (OperatingSystem.IsLinux())
            _ = kill(-Id, signal);
        if (signal == SigKill)
            KillTree();
    }

    /// <summary>Kills the group and, as a fallback, every descendant .NET can find.</summary>
    public void KillTree()
    {
        // The group id stays ours until the leader is reaped, and the group outlives its leader while members remain.
        if (OperatingSystem.IsLinux())
            _ = kill(-Id, SigKill);
        if (HasExited)
            return;
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
        _process?.Dispose();
    }

    private static void CloseQuietly(IDisposable stream)
    {
        try { stream.Dispose(); }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
    }

    private static ProcessGroup StartPortable(IReadOnlyList<string> argv, string workingDirectory, IReadOnlyDictionary<string, string> environment)
    {
        var info = new ProcessStartInfo
        {
            FileName = argv[0],
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var arg in argv.Skip(1))
            info.ArgumentList.Add(arg);
        info.Environment.Clear();
        foreach (var (name, value) in environment)
            info.Environment[name] = value;
        var process = Process.Start(info) ?? throw new Win32Exception("The process did not start.");
        var exit = process.WaitForExitAsync().ContinueWith(_ => process.ExitCode, TaskScheduler.Default);
        return new ProcessGroup(process.Id, process.StandardInput.BaseStream, process.StandardOutput.BaseStream,
            process.StandardError.BaseStream, exit, process);
    }

    private static unsafe ProcessGroup Spawn(IReadOnlyList<string> argv, string workingDirectory, IReadOnlyDictionary<string, string> environment)
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
        try
        {
            Check(pipe2(input, CloseOnExec));
            Check(pipe2(output, CloseOnExec));
            Check(pipe2(error, CloseOnExec));

            CheckResult(posix_spawn_file_actions_init(actions));
            CheckResult(posix_spawn_file_actions_adddup2(actions, input[0], 0));
            CheckResult(posix_spawn_file_actions_adddup2(actions, output[1], 1));
            CheckResult(posix_spawn_file_actions_adddup2(actions, error[1], 2));
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

            close(input[0]);
            close(output[1]);
            close(error[1]);
            var group = new ProcessGroup(pid,
                Wrap(input[1], PipeDirection.Out), Wrap(output[0], PipeDirection.In), Wrap(error[0], PipeDirection.In),
                Reap(pid), process: null);
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
                foreach (var fd in (ReadOnlySpan<int>)[input[0], input[1], output[0], output[1], error[0], error[1]])
                {
                    if (fd >= 0)
                        close(fd);
                }
            }
        }
    }

    /// <summary>A program named without a slash is looked up in the command's PATH, not the server's.</summary>
    private static string Resolve(string program)
    {
        if (program.Contains('/'))
            return program;
        foreach (var directory in SearchPath)
        {
            var candidate = Path.Combine(directory, program);
            if (File.Exists(candidate) && access(candidate, ExecuteOk) == 0)
                return candidate;
        }
        throw new Win32Exception(2 /* ENOENT */, $"'{program}' was not found in {string.Join(':', SearchPath)}");
    }

    private static Stream Wrap(int fd, PipeDirection direction) =>
        new AnonymousPipeClientStream(direction, new SafePipeHandle(fd, ownsHandle: true));

    /// <summary>
    /// Waits for the leader on a thread of its own: waitpid on this one pid never takes a child that the runtime's own
    /// SIGCHLD handling (for Process objects) is waiting for.
    /// </summary>
    private static unsafe Task<int> Reap(int pid)
    {
        var exit = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            int status;
            while (true)
            {
                var r = waitpid(pid, &status, 0);
                if (r == pid)
                    break;
                var errno = Marshal.GetLastPInvokeError();
                if (r == -1 && errno == 4 /* EINTR */)
                    continue;
                exit.TrySetResult(255);
                return;
            }
            var signal = status & 0x7f;
            exit.TrySetResult(signal == 0 ? (status >> 8) & 0xff : 128 + signal);
        }, maxStackSize: 64 * 1024)
        {
            IsBackground = true,
            Name = "ferry exec wait",
        };
        thread.Start();
        return exit.Task;
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

    private const int CloseOnExec = 0x80000; // O_CLOEXEC
    private const int ExecuteOk = 1; // X_OK
    private const int SpawnSetSigDefault = 0x04;
    private const int SpawnSetSigMask = 0x08;
    private const int SpawnSetSid = 0x80;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int pipe2(Span<int> fds, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int access(string path, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int waitpid(int pid, int* status, int options);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int sigemptyset(void* set);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int sigfillset(void* set);

    [LibraryImport("libc")]
    private static unsafe partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);

    [LibraryImport("libc")]
    private static unsafe partial int posix_spawn_file_actions_init(void* actions);

    [LibraryImport("libc")]
    private static unsafe partial int posix_spawn_file_actions_destroy(void* actions);

    [LibraryImport("libc")]
    private static unsafe partial int posix_spawn_file_actions_adddup2(void* actions, int fd, int newFd);

    [LibraryImport("libc")]
    private static unsafe partial int posix_spawn_file_actions_addchdir_np(void* actions, byte* path);

    [LibraryImport("libc")]
    private static unsafe partial int posix_spawnattr_init(void* attributes);

    [LibraryImport("libc")]
    private static unsafe partial int posix_spawnattr_destroy(void* attributes);

    [LibraryImport("libc")]
    private static unsafe partial int posix_spawnattr_setflags(void* attributes, short flags);

    [LibraryImport("libc")]
    private static unsafe partial int posix_spawnattr_setsigmask(void* attributes, void* mask);

    [LibraryImport("libc")]
    private static unsafe partial int posix_spawnattr_setsigdefault(void* attributes, void* signals);
}
