using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Ferry.Testing;

/// <summary>Runs the real <c>ferry</c> executable (ferry.dll beside the test assembly) as a child process.</summary>
public sealed partial class FerryProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TempDirectory? _ownedWorkingDirectory;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();

    private FerryProcess(Process process, TempDirectory? ownedWorkingDirectory)
    {
        _process = process;
        _ownedWorkingDirectory = ownedWorkingDirectory;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _stdout.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _stderr.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static string FerryDll => Path.Combine(AppContext.BaseDirectory, "ferry.dll");

    public int Id => _process.Id;
    public string Stdout => string.Join('\n', _stdout);
    public string Stderr => string.Join('\n', _stderr);
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>
    /// Starts ferry in <paramref name="workingDirectory"/>, or in a fresh temporary folder deleted on dispose: what a
    /// command writes by default (./ferry-server with its TLS key and users file, ./ferry-data) never lands in the
    /// source tree or the test output folder, and parallel tests never share it.
    /// </summary>
    public static FerryProcess Start(IEnumerable<string> args, string? workingDirectory = null, IDictionary<string, string>? environment = null, bool redirectStdin = false)
    {
        var owned = workingDirectory is null ? new TempDirectory("ferry-cwd") : null;
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectStdin,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? owned!.Path,
        };
        info.ArgumentList.Add(FerryDll);
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        info.Environment["DOTNET_NOLOGO"] = "1";
        if (environment is not null)
            foreach (var (k, v) in environment)
                info.Environment[k] = v;
        return new FerryProcess(Process.Start(info)!, owned);
    }

    /// <summary>Runs ferry to completion and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        await using var p = Start(args);
        await p.WaitForExitAsync();
        return (p.ExitCode, p.Stdout, p.Stderr);
    }

    /// <summary>Writes <paramref name="text"/> and a newline to the process's stdin, then closes it.</summary>
    public async Task WriteStdinAndCloseAsync(string text)
    {
        await _process.StandardInput.WriteLineAsync(text);
        _process.StandardInput.Close();
    }

    public async Task WaitForExitAsync()
    {
        await _process.WaitForExitAsync(TestTimeouts.Token());
        _process.WaitForExit(); // flushes the redirected streams
    }

    /// <summary>Waits for a "Listening on IP:PORT" log line and returns the address.</summary>
    public async Task<string> WaitForListeningAsync()
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TestTimeouts.Default)
        {
            foreach (var line in _stdout)
            {
                var m = ListeningLine().Match(line);
                if (m.Success)
                    return m.Groups[1].Value;
            }
            if (_process.HasExited)
                throw new InvalidOperationException($"ferry exited with {_process.ExitCode}: {Stdout}\n{Stderr}");
            await Task.Delay(50);
        }
        throw new TimeoutException($"ferry did not report listening: {Stdout}\n{Stderr}");
    }

    /// <summary>Waits until stdout has had <paramref name="count"/> lines that contain <paramref name="text"/>, and returns the last of them.</summary>
    public async Task<string> WaitForOutputAsync(string text, int count = 1)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TestTimeouts.Default)
        {
            var lines = _stdout.Where(l => l.Contains(text, StringComparison.Ordinal)).ToList();
            if (lines.Count >= count)
                return lines[count - 1];
            if (_process.HasExited)
                throw new InvalidOperationException($"ferry exited with {_process.ExitCode} before printing '{text}': {Stdout}\n{Stderr}");
            await Task.Delay(50);
        }
        throw new TimeoutException($"ferry did not print '{text}' {count} time(s): {Stdout}\n{Stderr}");
    }

    /// <summary>Sends a POSIX signal (TERM, INT, KILL) to the process.</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + name, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            await _process.WaitForExitAsync(CancellationToken.None);
        }
        _process.Dispose();
        _ownedWorkingDirectory?.Dispose();
    }

    [GeneratedRegex(@"Listening on (\S+)")]
    private static partial Regex ListeningLine();
}
