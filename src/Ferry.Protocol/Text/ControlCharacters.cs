using System.Globalization;
using System.Text;

namespace Ferry.Protocol.Text;

/// <summary>
/// Makes text from a peer safe to show on a terminal or write to a log: control characters that a terminal acts on
/// (ESC sequences, OSC titles, BEL, CR that overwrites a line) or that make a log line lie (LF that starts a forged
/// entry, bidi overrides that reorder what is read) are shown as visible escapes instead.
/// </summary>
/// <remarks>
/// C0 controls (U+0000-U+001F), DEL (U+007F) and C1 controls (U+0080-U+009F) become <c>\xNN</c> (two lowercase hex
/// digits, so ESC is <c>\x1b</c>); bidi controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), the line and
/// paragraph separators (U+2028, U+2029) and lone surrogates become <c>\u{XXXX}</c>. Everything else, backslashes
/// included, is kept as it is. Text with nothing to escape is returned as the same instance, without allocating.
/// </remarks>
internal static class ControlCharacters
{
    /// <summary>
    /// Returns <paramref name="text"/> with every control character escaped (see the type's remarks); null becomes the
    /// empty string, so a missing message prints as nothing rather than failing.
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
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                builder.Append(c).Append(text[i + 1]); // a proper pair: an ordinary character outside the BMP
                i++;
            }
            else if (IsControl(c))
                builder.Append(@"\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else if (IsFormatting(c) || char.IsSurrogate(c))
                builder.Append(@"\u{").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture)).Append('}');
            else
                builder.Append(c);
        }
        return builder.ToString();
    }

    /// <summary>
    /// True for a character that <see cref="Escape"/> always replaces (controls and bidi formatting); surrogates are
    /// not included because a proper pair is kept and only a lone half is escaped.
    /// </summary>
    public static bool IsUnsafe(char c) => IsControl(c) || IsFormatting(c);

    /// <summary>True when <see cref="Escape"/> would change <paramref name="text"/>.</summary>
    public static bool NeedsEscaping(string text) => IndexOfUnsafe(text) >= 0;

    private static int IndexOfUnsafe(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }
            if (IsControl(c) || IsFormatting(c) || char.IsSurrogate(c))
                return i;
        }
        return -1;
    }

    private static bool IsControl(char c) => c < 0x20 || c is >= '\u007f' and <= '\u009f';

    private static bool IsFormatting(char c) => c is '\u061c' or '\u200e' or '\u200f' or (>= '\u202a' and <= '\u202e')
        or (>= '\u2066' and <= '\u2069') or '\u2028' or '\u2029';
}
