using System.Runtime.InteropServices;

namespace Ferry.Client.Interop;

/// <summary>
/// The C library calls of the sync engine's local side (Linux/glibc): statx without following links, for nanosecond
/// modification times, permission bits and the file type (a FIFO or socket is told apart from a regular file), and
/// utimensat, which sets a modification time to the nanosecond (the managed API rounds to 100 ns); and the local
/// terminal of an interactive command (raw mode with tcgetattr/cfmakeraw/tcsetattr, the window size, polled reads).
/// </summary>
internal static unsafe partial class Libc
{
    public const int AtFdCwd = -100; // AT_FDCWD
    public const int AtSymlinkNoFollow = 0x100; // AT_SYMLINK_NOFOLLOW
    public const uint StatxBasicStats = 0x7FF; // STATX_BASIC_STATS
    public const long UtimeOmit = (1L << 30) - 2; // UTIME_OMIT: leave this time as it is

    public const int FileTypeMask = 0xF000; // S_IFMT
    public const int RegularFile = 0x8000; // S_IFREG
    public const int DirectoryType = 0x4000; // S_IFDIR
    public const int SymbolicLink = 0xA000; // S_IFLNK

    /// <summary>struct statx_timestamp.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct StatxTimestamp
    {
        public long Seconds;
        public uint Nanoseconds;
        public int Reserved;

        public readonly long TotalNanoseconds => Seconds * 1_000_000_000 + Nanoseconds;
    }

    /// <summary>struct statx of linux/stat.h: 256 bytes, the same on every architecture.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    public struct Statx
    {
        public uint Mask;
        public uint BlockSize;
        public ulong Attributes;
        public uint LinkCount;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
        private ushort _spare0;
        public ulong Inode;
        public ulong Size;
        public ulong Blocks;
        public ulong AttributesMask;
        public StatxTimestamp AccessTime;
        public StatxTimestamp BirthTime;
        public StatxTimestamp ChangeTime;
        public StatxTimestamp ModifyTime;
        public uint RdevMajor;
        public uint RdevMinor;
        public uint DevMajor;
        public uint DevMinor;
    }

    /// <summary>struct timespec (64-bit time_t: every 64-bit Linux).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>statx(2), in glibc since 2.28.</summary>
    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int StatxPath(int directoryFd, string path, int flags, uint mask, Statx* result);

    /// <summary>utimensat(2): times[0] is the access time, times[1] the modification time.</summary>
    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int UtimensAt(int directoryFd, string path, Timespec* times, int flags);

    /// <summary>futimens(3): utimensat on an open descriptor.</summary>
    [LibraryImport("libc", EntryPoint = "futimens", SetLastError = true)]
    public static partial int Futimens(Microsoft.Win32.SafeHandles.SafeFileHandle fd, Timespec* times);

    /// <summary>The {access: omitted, modification: <paramref name="unixNs"/>} pair utimensat and futimens take.</summary>
    public static void ModificationOnly(long unixNs, Timespec* times)
    {
        var seconds = Math.DivRem(unixNs, 1_000_000_000, out var rest);
        if (rest < 0)
        {
            seconds--;
            rest += 1_000_000_000;
        }
        times[0] = new Timespec { Seconds = 0, Nanoseconds = UtimeOmit };
        times[1] = new Timespec { Seconds = seconds, Nanoseconds = rest };
    }

    /// <summary>struct termios of glibc on Linux: 60 bytes, kept whole and handed back as it was.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 60)]
    public struct Termios
    {
        private uint _inputFlags;
    }

    /// <summary>struct winsize.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct WindowSize
    {
        public ushort Rows;
        public ushort Columns;
        public ushort XPixels;
        public ushort YPixels;
    }

    /// <summary>struct pollfd.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    public const int StdinFd = 0;
    public const int StdoutFd = 1;
    public const int TcsaDrain = 1; // TCSADRAIN: after pending output, as ssh does
    public const nuint TiocGetWindowSize = 0x5413; // TIOCGWINSZ
    public const short PollIn = 0x1; // POLLIN
    public const int Eintr = 4;
    public const int Eagain = 11;

    [LibraryImport("libc")]
    public static partial int isatty(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int tcgetattr(int fd, Termios* termios);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int tcsetattr(int fd, int action, Termios* termios);

    [LibraryImport("libc")]
    public static partial void cfmakeraw(Termios* termios);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, WindowSize* size);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint read(int fd, byte* buffer, nuint count);

    public const int OpenReadOnlyNonBlocking = 0x800 | 0x80000 | 0x100; // O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    public static partial nint PRead(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(Microsoft.Win32.SafeHandles.SafeFileHandle fd);
}
