using System.Runtime.InteropServices;

namespace Ferry.Sync.Interop;

/// <summary>
/// The C library calls of the sync code (Linux/glibc): statx, for the inode, device and nanosecond change time that the
/// managed file APIs do not expose. One place, so that the struct layout is checked once.
/// </summary>
internal static unsafe partial class Libc
{
    public const int AtFdCwd = -100; // AT_FDCWD
    public const int AtSymlinkNoFollow = 0x100; // AT_SYMLINK_NOFOLLOW
    public const int AtEmptyPath = 0x1000; // AT_EMPTY_PATH
    public const uint StatxBasicStats = 0x7FF; // STATX_BASIC_STATS

    public const int Enoent = 2;
    public const int Enotdir = 20;

    public const ushort FileTypeMask = 0xF000; // S_IFMT
    public const ushort RegularFile = 0x8000; // S_IFREG

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

    /// <summary>statx(2), in glibc since 2.28 (older C libraries fail with EntryPointNotFoundException).</summary>
    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int StatxPath(int directoryFd, string path, int flags, uint mask, Statx* result);

    /// <summary>statx(2) on an open descriptor (empty path with AT_EMPTY_PATH).</summary>
    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true)]
    public static partial int StatxDescriptor(int fd, byte* emptyPath, int flags, uint mask, Statx* result);
}
