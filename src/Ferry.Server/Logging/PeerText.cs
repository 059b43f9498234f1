using Ferry.Protocol.Text;

namespace Ferry.Server.Logging;

/// <summary>
/// The one way text that a peer chose (a hello's agent, an unknown command, a user name, an error message that quotes
/// a request) enters the server log and the audit log: cut to a bounded length and with control characters escaped
/// (<see cref="ControlCharacters.Escape"/>), so that a peer can neither drive the terminal that shows the log nor
/// forge a log line with an embedded CR or LF.
/// </summary>
internal static class PeerText
{
    /// <summary>Longest peer text kept in one log field, in UTF-16 code units, before escaping.</summary>
    public const int MaxLength = 256;

    /// <summary>The text as it may appear in a log; null stays null.</summary>
    public static string? Escape(string? text, int maxLength = MaxLength)
    {
        if (text is null)
            return null;
        if (text.Length > maxLength)
        {
            // Never cut a surrogate pair in half: the escaped half would look like hostile input.
            var cut = char.IsHighSurrogate(text[maxLength - 1]) ? maxLength - 1 : maxLength;
            return string.Concat(ControlCharacters.Escape(text[..cut]), "…");
        }
        return ControlCharacters.Escape(text);
    }
}
