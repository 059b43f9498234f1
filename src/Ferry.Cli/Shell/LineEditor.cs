using System.Text;

namespace Ferry.Cli.Shell;

/// <summary>
/// A small line editor for an interactive terminal: cursor keys, Home/End, Backspace/Delete, history with Up/Down, and
/// the Emacs keys most shells share (Ctrl-A/E/B/F/P/N/U/K/W/L). The line scrolls sideways inside one terminal row, so a
/// long line never wraps and redrawing stays simple. Ctrl-C abandons the line; Ctrl-D on an empty line ends the input.
/// </summary>
internal sealed class LineEditor(TextWriter output)
{
    private const int MaxHistory = 1000;
    private readonly List<string> _history = [];

    public IReadOnlyList<string> History => _history;

    /// <summary>Lines from an earlier run, oldest first, to browse with Up.</summary>
    public void Remember(IEnumerable<string> lines)
    {
        _history.AddRange(lines.Where(l => l.Trim().Length > 0));
        if (_history.Count > MaxHistory)
            _history.RemoveRange(0, _history.Count - MaxHistory);
    }

    /// <summary>Reads one line (blocking). Null at end of input; "" after Ctrl-C.</summary>
    public string? ReadLine(string prompt)
    {
        var line = new StringBuilder();
        var cursor = 0;
        var browsing = _history.Count; // index into history; Count = the line being typed
        var typed = "";
        var treatControlC = Console.TreatControlCAsInput;
        Console.TreatControlCAsInput = true;
        try
        {
            Render(prompt, line, cursor);
            while (true)
            {
                var key = Console.ReadKey(intercept: true);
                var c = key.KeyChar;
                if (key.Key == ConsoleKey.Enter || c is '\r' or '\n')
                {
                    Render(prompt, line, line.Length);
                    output.Write('\n');
                    output.Flush();
                    var text = line.ToString();
                    if (text.Trim().Length > 0 && (_history.Count == 0 || _history[^1] != text))
                    {
                        _history.Add(text);
                        if (_history.Count > MaxHistory)
                            _history.RemoveAt(0);
                    }
                    return text;
                }
                switch (key.Key, c)
                {
                    case (_, '\x03'): // Ctrl-C
                        output.Write("^C\n");
                        output.Flush();
                        return "";
                    case (_, '\x04'): // Ctrl-D
                        if (line.Length == 0)
                        {
                            output.Write('\n');
                            output.Flush();
                            return null;
                        }
                        DeleteAt(line, cursor);
                        break;
                    case (ConsoleKey.Backspace, _) or (_, '\b' or '\x7f'):
                        if (cursor > 0)
                        {
                            cursor = Previous(line, cursor);
                            DeleteAt(line, cursor);
                        }
                        break;
                    case (ConsoleKey.Delete, _):
                        DeleteAt(line, cursor);
                        break;
                    case (ConsoleKey.LeftArrow, _) or (_, '\x02'):
                        cursor = Previous(line, cursor);
                        break;
                    case (ConsoleKey.RightArrow, _) or (_, '\x06'):
                        cursor = Next(line, cursor);
                        break;
                    case (ConsoleKey.Home, _) or (_, '\x01'):
                        cursor = 0;
                        break;
                    case (ConsoleKey.End, _) or (_, '\x05'):
                        cursor = line.Length;
                        break;
                    case (_, '\x0b'): // Ctrl-K: delete to the end
                        line.Remove(cursor, line.Length - cursor);
                        break;
                    case (_, '\x15'): // Ctrl-U: delete to the start
                        line.Remove(0, cursor);
                        cursor = 0;
                        break;
                    case (_, '\x17'): // Ctrl-W: delete the word before the cursor
                        var start = cursor;
                        while (start > 0 && line[start - 1] == ' ')
                            start--;
                        while (start > 0 && line[start - 1] != ' ')
                            start--;
                        line.Remove(start, cursor - start);
                        cursor = start;
                        break;
                    case (_, '\x0c'): // Ctrl-L: clear the screen
                        output.Write("\x1b[H\x1b[2J");
                        break;
                    case (ConsoleKey.UpArrow, _) or (_, '\x10'):
                    case (ConsoleKey.DownArrow, _) or (_, '\x0e'):
                        var up = key.Key == ConsoleKey.UpArrow || c == '\x10';
                        var target = up ? browsing - 1 : browsing + 1;
                        if (target < 0 || target > _history.Count)
                            break;
                        if (browsing == _history.Count)
                            typed = line.ToString();
                        browsing = target;
                        line.Clear().Append(browsing == _history.Count ? typed : _history[browsing]);
                        cursor = line.Length;
                        break;
                    default:
                        if (c >= ' ' && c != '\x7f')
                        {
                            line.Insert(cursor, c);
                            cursor++;
                        }
                        break;
                }
                Render(prompt, line, cursor);
            }
        }
        finally
        {
            Console.TreatControlCAsInput = treatControlC;
        }
    }

    private static void DeleteAt(StringBuilder line, int index)
    {
        if (index >= line.Length)
            return;
        var length = char.IsHighSurrogate(line[index]) && index + 1 < line.Length ? 2 : 1;
        line.Remove(index, length);
    }

    private static int Previous(StringBuilder line, int cursor)
    {
        if (cursor == 0)
            return 0;
        cursor--;
        return cursor > 0 && char.IsLowSurrogate(line[cursor]) ? cursor - 1 : cursor;
    }

    private static int Next(StringBuilder line, int cursor)
    {
        if (cursor >= line.Length)
            return line.Length;
        cursor++;
        return cursor < line.Length && char.IsLowSurrogate(line[cursor]) ? cursor + 1 : cursor;
    }

    /// <summary>Redraws the row: prompt, the part of the line around the cursor that fits, then puts the cursor in place.</summary>
    private void Render(string prompt, StringBuilder line, int cursor)
    {
        var width = TerminalWidth();
        var promptWidth = Width(prompt);
        var room = Math.Max(10, width - promptWidth - 1);
        var text = line.ToString();
        var start = 0;
        while (Width(text.AsSpan(start, cursor - start)) > room)
            start = Next(line, start);
        var end = start;
        var used = 0;
        while (end < text.Length && used + Width(text[end]) <= room)
            used += Width(text[end++]);
        if (end < text.Length && char.IsLowSurrogate(text[end]))
            end--;

        var frame = new StringBuilder("\r");
        frame.Append(prompt).Append(text, start, end - start).Append("\x1b[K\r");
        var column = promptWidth + Width(text.AsSpan(start, cursor - start));
        if (column > 0)
            frame.Append("\x1b[").Append(column).Append('C');
        output.Write(frame.ToString());
        output.Flush();
    }

    private static int TerminalWidth()
    {
        try
        {
            return Console.WindowWidth > 0 ? Console.WindowWidth : 80;
        }
        catch (IOException)
        {
            return 80;
        }
    }

    internal static int Width(ReadOnlySpan<char> text)
    {
        var total = 0;
        foreach (var c in text)
            total += Width(c);
        return total;
    }

    /// <summary>Terminal columns of one UTF-16 unit: 2 for East Asian wide characters (and astral ones, mostly emoji), 0 for controls and marks.</summary>
    internal static int Width(char c)
    {
        if (char.IsLowSurrogate(c) || c < ' ' || c == '\x7f')
            return 0;
        if (char.IsHighSurrogate(c))
            return 2;
        var category = char.GetUnicodeCategory(c);
        if (category is System.Globalization.UnicodeCategory.NonSpacingMark or System.Globalization.UnicodeCategory.EnclosingMark or System.Globalization.UnicodeCategory.Format)
            return 0;
        return c is (>= '\u1100' and <= '\u115F') or (>= '\u2E80' and <= '\uA4CF' and not '\u303F') or (>= '\uAC00' and <= '\uD7A3')
            or (>= '\uF900' and <= '\uFAFF') or (>= '\uFE30' and <= '\uFE4F') or (>= '\uFF00' and <= '\uFF60') or (>= '\uFFE0' and <= '\uFFE6')
            ? 2
            : 1;
    }
}
