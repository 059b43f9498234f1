using System.Runtime.InteropServices;

namespace Ferry.Server.Storage;

/// <summary>
/// The process's open-file limit (RLIMIT_NOFILE) and the default caps on open uploads derived from it: every open upload
/// holds one file descriptor, and sockets, exec pipes and logs need the rest.
/// </summary>
internal static partial class OpenFileLimit
{
    private const int RlimitNofile = 7; // Linux; other systems fall back to Assumed
    private const long Assumed = 1024;

    /// <summary>The soft limit at start (.NET raises it to the hard limit on Linux), or 1024 where it cannot be read.</summary>
    public static long Current { get; } = Read();

    /// <summary>Uploads open at once across the server: a quarter of <see cref="Current"/>, from 64 to 65536.</summary>
    public static int DefaultMaxOpenUploads { get; } = (int)Math.Clamp(Current / 4, 64, 65536);

    /// <summary>Uploads one user may have open at once: an eighth of <see cref="DefaultMaxOpenUploads"/>, from 16 to 1024.</summary>
    public static int DefaultMaxOpenUploadsPerUser { get; } = Math.Clamp(DefaultMaxOpenUploads / 8, 16, 1024);

    private static long Read()
    {
        if (!OperatingSystem.IsLinux())
            return Assumed;
        try
        {
            if (getrlimit(RlimitNofile, out var limit) != 0)
                return Assumed;
            // RLIM_INFINITY is all ones; anything above long.MaxValue means "no limit" here.
            return limit.Current > long.MaxValue ? long.MaxValue : (long)limit.Current;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return Assumed;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ResourceLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, out ResourceLimit limit);
}
