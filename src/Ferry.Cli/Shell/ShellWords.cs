using System.Text;

namespace Ferry.Cli.Shell;

/// <summary>Splits a built-in's line into words the way sh does for the simple cases: blanks, 'single', "double" quotes and backslashes.</summary>
internal static class ShellWords
{
    /// <summary>The words of <paramref name="line"/>; throws <see cref="FormatException"/> for an unterminated quote.</summary>
    public static List<string> Split(string line)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        var inWord = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            switch (c)
            {
                case ' ' or '\t':
                    if (inWord)
                        words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                    break;
                case '\'':
                    var close = line.IndexOf('\'', i + 1);
                    if (close < 0)
                        throw new FormatException("unterminated ' quote");
                    current.Append(line, i + 1, close - i - 1);
                    i = close;
                    inWord = true;
                    break;
                case '"':
                    i++;
                    for (; i < line.Length && line[i] != '"'; i++)
                    {
                        if (line[i] == '\\' && i + 1 < line.Length && line[i + 1] is '"' or '\\' or '$' or '`')
                            i++;
                        current.Append(line[i]);
                    }
                    if (i >= line.Length)
                        throw new FormatException("unterminated \" quote");
                    inWord = true;
                    break;
                case '\\' when i + 1 < line.Length:
                    current.Append(line[++i]);
                    inWord = true;
                    break;
                default:
                    current.Append(c);
                    inWord = true;
                    break;
            }
        }
        if (inWord)
            words.Add(current.ToString());
        return words;
    }
}
