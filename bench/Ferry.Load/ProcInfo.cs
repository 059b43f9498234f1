using System.Globalization;

namespace Ferry.Load;

/// <summary>What Linux's /proc tells about a process and the TCP stack.</summary>
internal static class ProcInfo
{
    /// <summary>The <c>Name:</c>, <c>VmRSS:</c> (KiB), <c>VmHWM:</c> (KiB) and <c>Threads:</c> lines of /proc/PID/status.</summary>
    public readonly record struct Status(string Name, long VmRssKb, long VmHwmKb, int Threads);

    public static Status ReadStatus(int pid)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status");
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            throw new InvalidOperationException($"process {pid} is gone (cannot read /proc/{pid}/status: {ex.Message}).", ex);
        }
        string name = "";
        long rss = -1, hwm = -1;
        var threads = -1;
        foreach (var line in lines)
        {
            if (line.StartsWith("Name:", StringComparison.Ordinal))
                name = line[5..].Trim();
            else if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                rss = Kilobytes(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                hwm = Kilobytes(line);
            else if (line.StartsWith("Threads:", StringComparison.Ordinal))
                threads = int.Parse(line[8..].Trim(), CultureInfo.InvariantCulture);
        }
        if (rss < 0)
            throw new InvalidOperationException($"/proc/{pid}/status has no VmRSS line (a zombie or a kernel thread?).");
        return new Status(name, rss, hwm, threads);
    }

    private static long Kilobytes(string line)
    {
        // "VmRSS:\t  123456 kB"
        var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(parts[1], CultureInfo.InvariantCulture);
    }

    /// <summary>User + system CPU seconds a process has used so far (/proc/PID/stat utime + stime, at 100 ticks per second).</summary>
    public static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        // "pid (comm) state ppid ...": comm may hold spaces, so count fields after the last ')'. utime and stime are fields 14 and 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / 100.0;
    }

    /// <summary>CPU seconds of this process.</summary>
    public static double OwnCpuSeconds() => Environment.CpuUsage.TotalTime.TotalSeconds;

    /// <summary>The 1-minute load average (/proc/loadavg), or NaN: how busy the machine was, for reading noisy figures.</summary>
    public static double LoadAverage()
    {
        try
        {
            return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return double.NaN;
        }
    }

    /// <summary>The soft "Max open files" limit of a process (self or another), or -1 when it cannot be read.</summary>
    public static long OpenFilesLimit(string pid = "self")
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/limits"))
            {
                if (!line.StartsWith("Max open files", StringComparison.Ordinal))
                    continue;
                var parts = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return parts[0] == "unlimited" ? long.MaxValue : long.Parse(parts[0], CultureInfo.InvariantCulture);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
        }
        return -1;
    }

    /// <summary>Open file descriptors of a process (entries of /proc/PID/fd), or -1 when they cannot be counted.</summary>
    public static int OpenFiles(int pid)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/fd").Count();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>
    /// TcpExt ListenOverflows and ListenDrops from /proc/net/netstat (system-wide counters of connections a full accept
    /// queue turned away; the client then retransmits its SYN after 1 s, 3 s, …). Null when unreadable.
    /// </summary>
    public static (long Overflows, long Drops)? ListenCounters()
    {
        try
        {
            var lines = File.ReadAllLines("/proc/net/netstat");
            for (var i = 0; i + 1 < lines.Length; i++)
            {
                if (!lines[i].StartsWith("TcpExt:", StringComparison.Ordinal) || !lines[i + 1].StartsWith("TcpExt:", StringComparison.Ordinal))
                    continue;
                var names = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var values = lines[i + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                long Get(string n) => Array.IndexOf(names, n) is var k and > 0 && k < values.Length ? long.Parse(values[k], CultureInfo.InvariantCulture) : 0;
                return (Get("ListenOverflows"), Get("ListenDrops"));
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
        }
        return null;
    }
}
