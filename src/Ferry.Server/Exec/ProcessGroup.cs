using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Ferry.Server.Exec;

/// <summary>
/// A command started as the leader of a new session and process group (through setsid(1)), so that killing the group
/// reaches every child it forked, including ones that left the tree .NET can see.
/// </summary>
internal sealed partial class ProcessGroup : IDisposable
{
    private const int SigKill = 9;
    private const int SigTerm = 15;
    private const int SigInt = 2;

    private ProcessGroup(Process process) => Process = process;

    public Process Process { get; }

    public static ProcessGroup Start(IReadOnlyList<string> argv, string workingDirectory, IReadOnlyDictionary<string, string> environment)
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        if (OperatingSystem.IsLinux() && File.Exists("/usr/bin/setsid"))
        {
            // setsid execs the command in place (same pid) as the leader of its own group: pid == pgid.
            info.FileName = "/usr/bin/setsid";
            foreach (var arg in argv)
                info.ArgumentList.Add(arg);
        }
        else
        {
            info.FileName = argv[0];
            foreach (var arg in argv.Skip(1))
                info.ArgumentList.Add(arg);
        }
        info.Environment.Clear();
        foreach (var (name, value) in environment)
            info.Environment[name] = value;
        var process = Process.Start(info) ?? throw new Win32Exception("The process did not start.");
        return new ProcessGroup(process);
    }

    /// <summary>Sends a signal by name (INT, TERM, KILL) to the whole group.</summary>
    public void Signal(string name)
    {
        var signal = name switch { "INT" => SigInt, "TERM" => SigTerm, _ => SigKill };
        if (OperatingSystem.IsLinux())
            _ = kill(-Process.Id, signal);
        if (signal == SigKill)
            KillTree();
    }

    /// <summary>Kills the group and, as a fallback, every descendant .NET can find.</summary>
    public void KillTree()
    {
        if (OperatingSystem.IsLinux())
            _ = kill(-Process.Id, SigKill);
        try
        {
            if (!Process.HasExited)
                Process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { }
        catch (Win32Exception) { }
    }

    public void Dispose()
    {
        KillTree();
        // Process.Dispose leaves the redirected streams open once they were read through StandardOutput/StandardError (it
        // treats them as the reader's), so their pipes would stay open until a finalizer ran: close all three here.
        CloseQuietly(Process.StandardInput);
        CloseQuietly(Process.StandardOutput);
        CloseQuietly(Process.StandardError);
        Process.Dispose();
    }

    private static void CloseQuietly(IDisposable stream)
    {
        try { stream.Dispose(); }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
