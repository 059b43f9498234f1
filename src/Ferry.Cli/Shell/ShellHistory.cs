using System.Text;

namespace Ferry.Cli.Shell;

/// <summary>
/// The lines typed in <c>ferry shell</c> (at its prompt, and after '~:' on a remote terminal), kept per server between
/// runs: one file per server under <c>$XDG_STATE_HOME/ferry/history</c> (else <c>~/.local/state/ferry/history</c>),
/// readable by its owner only, the last <see cref="MaxLines"/> lines.
/// </summary>
internal sealed class ShellHistory
{
    public const int MaxLines = 1000;

    private readonly string _path;

    private ShellHistory(string path) => _path = path;

    /// <summary>The history of <paramref name="server"/> (host:port), in <paramref name="stateDirectory"/> or the user's state folder.</summary>
    public static ShellHistory For(string server, string? stateDirectory = null)
    {
        var folder = stateDirectory ?? DefaultFolder();
        var name = new StringBuilder(server.Length);
        foreach (var c in server)
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_');
        return new ShellHistory(Path.Combine(folder, name.ToString()));
    }

    private static string DefaultFolder()
    {
        var state = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        if (string.IsNullOrEmpty(state) || !Path.IsPathRooted(state))
            state = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");
        return Path.Combine(state, "ferry", "history");
    }

    /// <summary>The saved lines, oldest first; none when there is no file or it cannot be read.</summary>
    public IReadOnlyList<string> Load()
    {
        try
        {
            var lines = File.ReadAllLines(_path, Encoding.UTF8);
            return lines.Length <= MaxLines ? lines : lines[^MaxLines..];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>Appends a line (a history that cannot be written is not worth failing a command for).</summary>
    public void Add(string line)
    {
        if (line.Trim().Length == 0 || line.Contains('\n') || line.Contains('\r'))
            return;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
            var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var file = new FileStream(_path, options))
                file.Write(Encoding.UTF8.GetBytes(line + "\n"));
            if (new FileInfo(_path).Length > 256 * 1024)
                File.WriteAllLines(_path, Load(), Encoding.UTF8); // keep the last MaxLines lines
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
