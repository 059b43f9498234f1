using System.ComponentModel;
using System.Diagnostics;

namespace Ferry.Server.Exec;

/// <summary>Off Linux: a plain <see cref="Process"/>, killed with its tree (there is no process group to signal).</summary>
internal sealed partial class ProcessGroup
{
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
        // Process reports a death by signal as 128 + N already; there is no signal to tell apart here.
        var exit = process.WaitForExitAsync().ContinueWith(_ => new ProcessExit(process.ExitCode, 0), TaskScheduler.Default);
        return new ProcessGroup(process.Id, process.StandardInput.BaseStream, process.StandardOutput.BaseStream,
            process.StandardError.BaseStream, exit, process, sandboxed: false);
    }
}
