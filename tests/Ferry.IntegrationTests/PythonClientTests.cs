using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using Ferry.Testing;

namespace Ferry.IntegrationTests;

/// <summary>
/// The pure-Python client (clients/python) against the real server: runs its unittest suite, which starts
/// <c>ferry serve</c> from the ferry.dll beside this test assembly.
/// </summary>
public class PythonClientTests
{
    /// <summary>The whole suite takes a few seconds; this bounds a hang, as TestTimeouts does for single waits.</summary>
    private static readonly TimeSpan SuiteTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Python_client_unittest_suite_passes()
    {
        var directory = Path.Combine(FindRepositoryRoot(), "clients", "python");
        Assert.True(File.Exists(Path.Combine(directory, "test_ferry_client.py")), $"test_ferry_client.py is missing from {directory}.");
        var ferryDll = Path.Combine(AppContext.BaseDirectory, "ferry.dll");
        Assert.True(File.Exists(ferryDll), $"{ferryDll} is missing; the integration test project should reference Ferry.Cli.");

        // Run from a temporary folder, so nothing the suite or the servers it starts write lands in the source tree
        // (a TLS private key once did: clients/python/ferry-server/tls.pfx).
        using var work = new TempDirectory("ferry-python-cwd");
        var sourceFilesBefore = SourceFiles(directory);
        var info = new ProcessStartInfo("python3")
        {
            WorkingDirectory = work.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-m", "unittest", "-v", "test_ferry_client" })
            info.ArgumentList.Add(arg);
        info.Environment["FERRY_BIN"] = ferryDll;
        info.Environment["PYTHONPATH"] = directory;
        info.Environment["PYTHONDONTWRITEBYTECODE"] = "1"; // no __pycache__ in the source tree
        info.Environment["PYTHONUNBUFFERED"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("Process.Start returned null.");
        }
        catch (Win32Exception ex)
        {
            Assert.Fail($"python3 could not be started ({ex.Message}). The Python client tests need python3 (3.8 or later) on PATH; CI installs it.");
            return;
        }

        using (process)
        {
            process.StandardInput.Close();
            var output = new StringBuilder();
            var gate = new object();
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (gate) output.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (gate) output.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            using var timeout = new CancellationTokenSource(SuiteTimeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                await process.WaitForExitAsync(CancellationToken.None);
                string partial;
                lock (gate) partial = output.ToString();
                Assert.Fail($"python3 -m unittest test_ferry_client did not finish within {SuiteTimeout.TotalSeconds} s:\n{partial}");
            }
            process.WaitForExit(); // flushes the redirected streams

            string text;
            lock (gate) text = output.ToString();
            Assert.True(process.ExitCode == 0, $"python3 -m unittest -v test_ferry_client exited with {process.ExitCode}:\n{text}");
        }
        Assert.Equal(sourceFilesBefore, SourceFiles(directory));
        Assert.False(Directory.Exists(Path.Combine(directory, "ferry-server")), "A server state folder (with its TLS key) is in clients/python.");
    }

    private static List<string> SourceFiles(string directory) =>
        [.. Directory.GetFileSystemEntries(directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)];

    internal static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ferry.slnx")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"No folder above {AppContext.BaseDirectory} contains Ferry.slnx.");
    }
}
