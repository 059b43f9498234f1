using System.Diagnostics;

namespace Ferry.Testing;

/// <summary>
/// A real terminal for tests: a tmux server of its own (its socket in a temporary folder), one window running an
/// interactive bash without start files, driven with send-keys and read with capture-pane. Waits are for text to
/// appear, with a deadline. Disposing kills the tmux server and everything in it.
/// </summary>
public sealed class TmuxTerminal : IDisposable
{
    private readonly TempDirectory _folder = new("ferry-tmux");
    private readonly string _socket;

    private TmuxTerminal(int columns, int rows, IReadOnlyDictionary<string, string>? environment)
    {
        _socket = _folder.Combine("socket");
        var start = new List<string> { "new-session", "-d", "-x", columns.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-y", rows.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.AddRange(["-e", $"{name}={value}"]);
        start.AddRange(["-e", "DOTNET_NOLOGO=1", "bash --norc --noprofile -i"]);
        Tmux([.. start]);
        // A window keeps the size it was given, attached or not, until the test resizes it.
        Tmux("set-option", "-g", "window-size", "manual");
    }

    /// <summary>The folder of the tmux socket, for files a test wants next to it.</summary>
    public TempDirectory Folder => _folder;

    /// <summary>Starts a tmux server with one window of <paramref name="columns"/> × <paramref name="rows"/> and waits for its prompt.</summary>
    public static async Task<TmuxTerminal> StartAsync(int columns = 100, int rows = 30, IReadOnlyDictionary<string, string>? environment = null)
    {
        var terminal = new TmuxTerminal(columns, rows, environment);
        try
        {
            await terminal.WaitForAsync(screen => screen.TrimEnd().EndsWith('$') || screen.TrimEnd().EndsWith('#'), "the first prompt");
            return terminal;
        }
        catch
        {
            terminal.Dispose();
            throw;
        }
    }

    /// <summary>Types <paramref name="text"/> literally, then Enter.</summary>
    public void Type(string text) => Tmux("send-keys", "-t", "0", "-l", text + "\r");

    /// <summary>Types <paramref name="text"/> literally, without Enter.</summary>
    public void TypeLiteral(string text) => Tmux("send-keys", "-t", "0", "-l", text);

    /// <summary>Sends tmux key names (C-c, Escape, Enter...).</summary>
    public void Keys(params string[] keys) => Tmux(["send-keys", "-t", "0", .. keys]);

    /// <summary>Changes the window's size, as a user resizing their terminal.</summary>
    public void Resize(int columns, int rows) => Tmux("resize-window", "-t", "0",
        "-x", columns.ToString(System.Globalization.CultureInfo.InvariantCulture), "-y", rows.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The visible screen, one string per row.</summary>
    public string[] Screen() => Tmux("capture-pane", "-p", "-t", "0").Split('\n');

    /// <summary>The visible screen and the scrollback, wrapped lines joined.</summary>
    public string Text() => Tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "0");

    /// <summary>Waits until the screen and scrollback (as <see cref="Text"/>) satisfy <paramref name="condition"/>; returns that text.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> condition, string what, TimeSpan? deadline = null)
    {
        var text = "";
        try
        {
            await Eventually.UntilAsync(() => condition(text = Text()), what, deadline ?? TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} The terminal showed:\n{text}", ex);
        }
        return text;
    }

    /// <summary>Waits until <paramref name="text"/> appears <paramref name="count"/> times.</summary>
    public Task<string> WaitForTextAsync(string text, int count = 1, TimeSpan? deadline = null) =>
        WaitForAsync(t => Occurrences(t, text) >= count, $"'{text}' ×{count}", deadline);

    public static int Occurrences(string text, string part)
    {
        var n = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal))
            n++;
        return n;
    }

    private string Tmux(params string[] args)
    {
        var info = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])["-S", _socket, "-f", "/dev/null", .. args])
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TestTimeouts.Default))
        {
            process.Kill();
            throw new TimeoutException($"tmux {string.Join(' ', args)} did not return.");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"tmux {string.Join(' ', args)} failed ({process.ExitCode}): {error.Result}");
        return output.Result;
    }

    public void Dispose()
    {
        try
        {
            Tmux("kill-server");
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
        }
        _folder.Dispose();
    }
}
