using System.Runtime.InteropServices;

namespace Ferry.Server.Interop;

/// <summary>
/// The C library calls the server makes itself (Linux/glibc): starting and reaping commands, signals, giving files
/// and folders to the account that runs commands, and opening paths beneath a user's root (openat2 and the *at calls). One place, so that struct sizes and constants are checked once.
/// </summary>
internal static unsafe partial class Libc
{
    public const int SigHup = 1;
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;
    public const int SigCont = 18;

    public const int Eintr = 4;
    public const int Enoent = 2;
    public const int Eexist = 17;

    public const int CloseOnExec = 0x80000; // O_CLOEXEC
    public const int ExecuteOk = 1; // X_OK
    public const int SpawnSetSigDefault = 0x04;
    public const int SpawnSetSigMask = 0x08;
    public const int SpawnSetSid = 0x80;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int kill(int pid, int signal);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int pipe2(Span<int> fds, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    public const nuint Fionread = 0x541B; // FIONREAD

    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, int* value);

    /// <summary>How many bytes wait unread in a pipe (FIONREAD); 0 when that cannot be told.</summary>
    public static int UnreadBytes(int fd)
    {
        int count;
        return ioctl(fd, Fionread, &count) == 0 ? count : 0;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int access(string path, int mode);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int waitpid(int pid, int* status, int options);

    public const long SysPidfdOpen = 434; // pidfd_open(2), Linux 5.3: the same number on every architecture
    public const int EpollCloseOnExec = 0x80000; // EPOLL_CLOEXEC
    public const int EpollControlAdd = 1; // EPOLL_CTL_ADD
    public const uint EpollIn = 0x001; // EPOLLIN
    public const uint EpollOneShot = 1u << 30; // EPOLLONESHOT

    /// <summary>pidfd_open through syscall(2); the pidfd is close-on-exec. Arguments as long: the kernel reads whole registers.</summary>
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    public static partial long pidfd_syscall(long number, long pid, long flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_create1(int flags);

    /// <summary><paramref name="ev"/> points at a struct epoll_event (see <see cref="EpollEventSize"/>).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, byte* ev);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_wait(int epfd, byte* events, int maxEvents, int timeout);

    /// <summary>struct epoll_event is packed on x86-64 (u32 events, then u64 data at offset 4) and naturally aligned elsewhere (data at 8).</summary>
    public static int EpollEventSize => RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    /// <summary>The signal that ended a process, from a waitpid status (WTERMSIG when WIFSIGNALED), or 0 when it exited.</summary>
    public static int TermSignalOf(int waitStatus)
    {
        var signal = waitStatus & 0x7f;
        return signal is 0 or 0x7f ? 0 : signal;
    }

    /// <summary>The exit status from a waitpid status (WEXITSTATUS); meaningful when <see cref="TermSignalOf"/> is 0.</summary>
    public static int ExitStatusOf(int waitStatus) => (waitStatus >> 8) & 0xff;

    /// <summary>Whether a waitpid status says that a core was dumped (WCOREDUMP).</summary>
    public static bool CoreDumpedOf(int waitStatus) => TermSignalOf(waitStatus) != 0 && (waitStatus & 0x80) != 0;

    /// <summary>The signals a client may send a command, by the names it uses (SSH's, without "SIG").</summary>
    private static readonly Dictionary<string, int> s_clientSignals = new(StringComparer.Ordinal)
    {
        ["HUP"] = SigHup, ["INT"] = SigInt, ["QUIT"] = 3, ["KILL"] = SigKill, ["USR1"] = 10, ["USR2"] = 12, ["TERM"] = SigTerm,
    };

    /// <summary>The number of a signal a client may name (HUP, INT, QUIT, KILL, USR1, USR2, TERM), or 0 for any other name.</summary>
    public static int SignalByName(string name) => s_clientSignals.GetValueOrDefault(name);

    /// <summary>The names of Linux's signals 1–31 without "SIG", for the exit report; realtime signals are RT&lt;n&gt;.</summary>
    private static readonly string[] s_signalNames =
    [
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM",
        "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];

    /// <summary>The name of signal <paramref name="signal"/> without "SIG" (INT, SEGV, RT2...).</summary>
    public static string SignalName(int signal) =>
        signal > 0 && signal < s_signalNames.Length ? s_signalNames[signal] : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"RT{signal - 32}");

    // Pseudo-terminals (a command run on a terminal, docs/protocol.md §6.4).
    public const int OpenNoControllingTerminal = 0x100; // O_NOCTTY
    public const int Eio = 5;
    public const nuint TiocSetWindowSize = 0x5414; // TIOCSWINSZ
    public const nuint TiocGetProcessGroup = 0x540F; // TIOCGPGRP
    public const uint InputUtf8 = 0x4000; // IUTF8 in c_iflag
    public const int TcsaNow = 0; // TCSANOW

    /// <summary>struct winsize.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct WindowSize
    {
        public ushort Rows;
        public ushort Columns;
        public ushort XPixels;
        public ushort YPixels;
    }

    /// <summary>struct termios of glibc on Linux (60 bytes); only c_iflag is read and written here, at offset 0.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 60)]
    public struct Termios
    {
        public uint InputFlags;
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial int posix_openpt(int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int grantpt(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int unlockpt(int fd);

    [LibraryImport("libc")]
    public static partial int ptsname_r(int fd, byte* buffer, nuint size);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    public static partial int openFlags(byte* path, int flags);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int ioctlWindow(int fd, nuint request, WindowSize* size);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int tcgetattr(int fd, Termios* termios);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int tcsetattr(int fd, int action, Termios* termios);

    public const int FcntlDuplicateCloseOnExec = 1030; // F_DUPFD_CLOEXEC

    /// <summary>
    /// fcntl(fd, F_DUPFD_CLOEXEC, lowest): a second descriptor for <paramref name="fd"/> that is closed on exec. Never
    /// dup(2), whose copy is not: every command started afterwards, by anyone, would inherit it.
    /// </summary>
    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int fcntlDuplicate(int fd, int command, int lowest);

    [LibraryImport("libc")]
    public static partial int posix_spawn_file_actions_addopen(void* actions, int fd, byte* path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sigemptyset(void* set);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sigfillset(void* set);

    [LibraryImport("libc")]
    public static partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);

    [LibraryImport("libc")]
    public static partial int posix_spawn_file_actions_init(void* actions);

    [LibraryImport("libc")]
    public static partial int posix_spawn_file_actions_destroy(void* actions);

    [LibraryImport("libc")]
    public static partial int posix_spawn_file_actions_adddup2(void* actions, int fd, int newFd);

    [LibraryImport("libc")]
    public static partial int posix_spawn_file_actions_addchdir_np(void* actions, byte* path);

    /// <summary>Closes every descriptor from <paramref name="lowest"/> up in the child (glibc 2.34 and later).</summary>
    [LibraryImport("libc")]
    public static partial int posix_spawn_file_actions_addclosefrom_np(void* actions, int lowest);

    [LibraryImport("libc")]
    public static partial int posix_spawnattr_init(void* attributes);

    [LibraryImport("libc")]
    public static partial int posix_spawnattr_destroy(void* attributes);

    [LibraryImport("libc")]
    public static partial int posix_spawnattr_setflags(void* attributes, short flags);

    [LibraryImport("libc")]
    public static partial int posix_spawnattr_setsigmask(void* attributes, void* mask);

    [LibraryImport("libc")]
    public static partial int posix_spawnattr_setsigdefault(void* attributes, void* signals);

    public const int OpenReadOnly = 0; // O_RDONLY
    public const int OpenDirectory = 0x10000; // O_DIRECTORY
    public const int OpenNoFollow = 0x20000; // O_NOFOLLOW

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    /// <summary>Makes <paramref name="newPath"/> a second name of <paramref name="oldPath"/>; never replaces (EEXIST).</summary>
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int link(string oldPath, string newPath);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fchmod(int fd, uint mode);

    [LibraryImport("libc")]
    public static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chown(string path, uint owner, uint group);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fchown(int fd, uint owner, uint group);

    public const int Eagain = 11;
    public const int Eperm = 1;
    public const int Exdev = 18;
    public const int Enotdir = 20;
    public const int Eisdir = 21;
    public const int Einval = 22;
    public const int Enosys = 38;
    public const int Eloop = 40;

    public const int OpenReadWrite = 2; // O_RDWR
    public const int OpenCreate = 0x40; // O_CREAT
    public const int OpenExclusive = 0x80; // O_EXCL
    public const int OpenPath = 0x200000; // O_PATH: a handle on the name itself, for *at calls and fstat

    public const int AtSymlinkNoFollow = 0x100;
    public const int AtRemoveDirectory = 0x200;
    public const int AtEmptyPath = 0x1000;

    public const uint RenameNoReplace = 1;

    /// <summary>openat2's resolve flags: no magic links (/proc/self/fd/...), nothing above the starting folder.</summary>
    public const ulong ResolveNoMagicLinks = 0x02;
    public const ulong ResolveBeneath = 0x08;

    /// <summary>openat2 has no glibc wrapper on Debian 12; its number is the same on x86-64 and arm64.</summary>
    public const long SysOpenat2 = 437;

    public const ushort FileTypeMask = 0xF000; // S_IFMT
    public const ushort FileTypeDirectory = 0x4000; // S_IFDIR
    public const ushort FileTypeRegular = 0x8000; // S_IFREG
    public const ushort FileTypeLink = 0xA000; // S_IFLNK
    public const uint StatxBasicStats = 0x7FF;

    /// <summary>The kernel's struct open_how (openat2).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct StatxTimestamp
    {
        public long Seconds;
        public uint Nanoseconds;
        public int Reserved;
    }

    /// <summary>The kernel's struct statx: the same layout on every architecture, unlike struct stat (256 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    public struct Statx
    {
        public uint Mask;
        public uint BlockSize;
        public ulong Attributes;
        public uint Links;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
        public ushort Spare0;
        public ulong Inode;
        public ulong Size;
        public ulong Blocks;
        public ulong AttributesMask;
        public StatxTimestamp AccessTime;
        public StatxTimestamp BirthTime;
        public StatxTimestamp ChangeTime;
        public StatxTimestamp ModifyTime;
    }

    /// <summary>openat2 through syscall(2) (variadic: the arguments travel in the same registers as a plain call's).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial long syscall(long number, SafeHandle dirFd, byte* path, OpenHow* how, nuint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int openat(SafeHandle dirFd, string path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkdirat(SafeHandle dirFd, string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int renameat2(SafeHandle oldDirFd, string oldPath, SafeHandle newDirFd, string newPath, uint flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int linkat(SafeHandle oldDirFd, string oldPath, SafeHandle newDirFd, string newPath, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int unlinkat(SafeHandle dirFd, string path, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint readlinkat(SafeHandle dirFd, string path, byte* buffer, nuint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statx(SafeHandle dirFd, string path, int flags, uint mask, Statx* buffer);

    /// <summary>The kernel's struct timespec (64-bit time_t on every architecture the server runs on).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>UTIME_OMIT: leave that time as it is (utimensat, futimens).</summary>
    public const long TimeOmit = (1L << 30) - 2;

    /// <summary>Sets access and modification times of a name relative to a folder; AT_SYMLINK_NOFOLLOW sets a link's own.</summary>
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int utimensat(SafeHandle dirFd, string path, Timespec* times, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int futimens(SafeHandle fd, Timespec* times);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    public static partial int fchmodHandle(SafeHandle fd, uint mode);

    /// <summary>
    /// pwrite(2) on a descriptor known to be a regular file: <c>RandomAccess.Write</c>
    /// first asks the kernel whether a new handle can seek (an lseek per file), which a part file the store made never needs.
    /// </summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint pwrite(SafeHandle fd, byte* buffer, nuint count, long offset);

    /// <summary>fsync(2): <c>RandomAccess.FlushToDisk</c> also asks first whether the handle can seek.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int fsync(SafeHandle fd);

    /// <summary>Creates a symbolic link named <paramref name="linkPath"/> in a folder; never replaces (EEXIST).</summary>
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int symlinkat(string target, SafeHandle dirFd, string linkPath);

    /// <summary>The target text of the link <paramref name="path"/> in a folder (not NUL-terminated).</summary>
    public static string? ReadLinkAt(SafeHandle dirFd, string path)
    {
        const int Size = 4096;
        var buffer = stackalloc byte[Size];
        var n = readlinkat(dirFd, path, buffer, Size);
        return n < 0 || n >= Size ? null : System.Text.Encoding.UTF8.GetString(buffer, (int)n);
    }

    /// <summary>The times argument of utimensat/futimens that sets the modification time and leaves the access time.</summary>
    public static Timespec[] TimesFromNanoseconds(long modifiedNs)
    {
        var omit = new Timespec { Nanoseconds = TimeOmit };
        var time = new Timespec { Seconds = Math.DivRem(modifiedNs, 1_000_000_000L, out var rest), Nanoseconds = rest };
        if (time.Nanoseconds < 0)
        {
            time.Seconds--;
            time.Nanoseconds += 1_000_000_000L;
        }
        return [omit, time];
    }

    /// <summary>glibc's struct passwd (the fields up to pw_gid are all that is read).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Passwd
    {
        public nint Name;
        public nint Password;
        public uint Uid;
        public uint Gid;
        public nint Gecos;
        public nint Directory;
        public nint Shell;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int getpwnam_r(string name, Passwd* entry, byte* buffer, nuint size, Passwd** result);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getpwuid_r(uint uid, Passwd* entry, byte* buffer, nuint size, Passwd** result);

    /// <summary>The uid, gid and name of an account in the system's user database, or null when there is none.</summary>
    public static (uint Uid, uint Gid, string Name)? LookUpUser(string? name, uint uid = 0)
    {
        const int BufferBytes = 16 * 1024;
        var buffer = stackalloc byte[BufferBytes];
        Passwd entry;
        Passwd* found = null;
        var error = name is null
            ? getpwuid_r(uid, &entry, buffer, BufferBytes, &found)
            : getpwnam_r(name, &entry, buffer, BufferBytes, &found);
        if (error != 0 || found == null)
            return null;
        return (entry.Uid, entry.Gid, Marshal.PtrToStringUTF8(entry.Name) ?? "");
    }
}
