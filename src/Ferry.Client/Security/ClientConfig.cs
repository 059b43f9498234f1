namespace Ferry.Client.Security;

/// <summary>Where the client keeps its files: <c>$FERRY_CONFIG_DIR</c>, else <c>$XDG_CONFIG_HOME/ferry</c>, else <c>~/.config/ferry</c>.</summary>
internal static class ClientConfig
{
    public static string Directory
    {
        get
        {
            if (Environment.GetEnvironmentVariable("FERRY_CONFIG_DIR") is { Length: > 0 } explicitDir)
                return explicitDir;
            var xdg = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
            var baseDir = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
            return Path.Combine(baseDir, "ferry");
        }
    }

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> atomically, readable by the owner only.</summary>
    internal static void WritePrivateFile(string path, string text)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        System.IO.Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var writer = new StreamWriter(new FileStream(temporary, options)))
            writer.Write(text);
        File.Move(temporary, path, overwrite: true);
    }
}
