namespace Ferry.Testing;

/// <summary>
/// What a process holds, read from Linux's /proc: open file descriptors, sockets among them, child processes and
/// resident memory. Tests count these before and after a run to prove nothing leaked.
/// </summary>
public static class ProcessCensus
{
    /// <summary>Open file descriptors of <paramref name="pid"/> (files, sockets, pipes, everything).</summary>
    public static int OpenDescriptors(int pid) => Descriptors(pid).Count;

    /// <summary>Open sockets of <paramref name="pid"/>: listeners and connections.</summary>
    public static int Sockets(int pid) => Descriptors(pid).Count(target => target.StartsWith("socket:", StringComparison.Ordinal));

    /// <summary>Open regular files of <paramref name="pid"/> (descriptor targets that are absolute paths).</summary>
    public static IReadOnlyList<string> Files(int pid) => Descriptors(pid).Where(target => target.StartsWith('/')).ToList();

    /// <summary>Open descriptors of <paramref name="pid"/> by kind: "socket", "pipe", "anon_inode:[eventfd]", "/dev/null", "file".</summary>
    public static IReadOnlyDictionary<string, int> DescriptorKinds(int pid) => Descriptors(pid)
        .GroupBy(target => target.StartsWith("/dev/", StringComparison.Ordinal) ? target
            : target.StartsWith('/') ? "file"
            : target.Contains(":[", StringComparison.Ordinal) && !target.StartsWith("anon_inode", StringComparison.Ordinal) ? target[..target.IndexOf(':')]
            : target)
        .OrderBy(g => g.Key, StringComparer.Ordinal)
        .ToDictionary(g => g.Key, g => g.Count());

    /// <summary>Every living descendant of <paramref name="pid"/>.</summary>
    public static IReadOnlyList<int> Descendants(int pid)
    {
        var parents = new Dictionary<int, int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var candidate))
                continue;
            try
            {
                // /proc/PID/stat: "pid (comm) state ppid ...": comm may hold spaces, so read after its last ')'.
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                parents[candidate] = int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }
        }
        var found = new List<int>();
        var frontier = new Queue<int>([pid]);
        while (frontier.TryDequeue(out var parent))
        {
            foreach (var (child, ppid) in parents)
            {
                if (ppid == parent)
                {
                    found.Add(child);
                    frontier.Enqueue(child);
                }
            }
        }
        return found;
    }

    /// <summary>Resident memory of <paramref name="pid"/> in bytes (VmRSS).</summary>
    public static long ResidentBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    private static List<string> Descriptors(int pid)
    {
        var targets = new List<string>();
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target)
                    targets.Add(target);
            }
            catch (IOException)
            {
                // Closed while we looked.
            }
        }
        return targets;
    }
}
