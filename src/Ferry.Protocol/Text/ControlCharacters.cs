using System.Globalization;
using System.Text;

namespace Ferry.Protocol.Text;

/// <summary>
/// Makes text from a peer safe to print on a terminal or write to a log line: a server's error message or a file name
/// may carry ESC sequences (colours, OSC window titles, cursor moves), BEL, CR or bidi overrides that would rewrite
/// what the reader sees. Each such character is shown as a visible escape instead.
/// </summary>
public static class ControlCharacters
{
    /// <summary>
    /// Returns <paramref name="text"/> with every C0 control (U+0000–U+001F, including ESC, CR, LF, TAB, BEL), DEL
    /// (U+007F), C1 control (U+0080–U+009F), bidirectional control (U+061C, U+200E, U+200F, U+202A–U+202E,
    /// U+2066–U+2069) and line/paragraph separator (U+2028, U+2029) replaced by <c>\xNN</c> (below U+0100) or
    /// <c>\uNNNN</c>, lower-case hex. Everything else, backslashes included, is kept as it is; text without such
    /// characters comes back as the same instance. Null becomes the empty string.
    /// </summary>
    public static string Escape(string? text)
    {
        if (string.IsNullOrEmpty(text))
            return "";
        var first = IndexOfUnsafe(text);
        if (first < 0)
            return text;
        var builder = new StringBuilder(text.Length + 16);
        builder.Append(text, 0, first);
        for (var i = first; i < text.Length; i++)
        {
            var c = text[i];
            if (!IsUnsafe(c))
                builder.Append(c);
            else if (c < 0x100)
                builder.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else
                builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
        }
        return builder.ToString();
    }

    /// <summary>True for the characters <see cref="Escape"/> replaces.</summary>
    public static bool IsUnsafe(char c) =>
        c < 0x20 || c is >= '\u007f' and <= '\u009f'
        || c is '\u061c' or '\u200e' or '\u200f' or '\u2028' or '\u2029'
        || c is >= '\u202a' and <= '\u202e'
        || c is >= '\u2066' and <= '\u2069';

    private static int IndexOfUnsafe(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (IsUnsafe(text[i]))
                return i;
        }
        return -1;
    }
}
