using Ferry.Protocol.Errors;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Exec;

/// <summary>A command's request to run on a pseudo-terminal (docs/protocol.md §6.4), checked: its TERM and its window.</summary>
internal sealed record TerminalRequest(string Term, TerminalSize Size)
{
    /// <summary>TERM when the client names none.</summary>
    public const string DefaultTerm = "xterm-256color";

    /// <summary>The longest TERM accepted: real names are a few dozen characters at most.</summary>
    public const int MaxTermLength = 64;

    /// <summary>Checks the tty field of an exec request.</summary>
    /// <exception cref="FerryException">field_invalid: a TERM that is too long or holds anything but letters, digits and ._+-, or a size out of range.</exception>
    public static TerminalRequest From(ExecTerminal terminal)
    {
        var term = string.IsNullOrEmpty(terminal.Term) ? DefaultTerm : terminal.Term;
        if (term.Length > MaxTermLength || !term.All(IsTermCharacter))
            throw new FerryException(FerryErrorCode.FieldInvalid,
                $"'term' must be at most {MaxTermLength} letters, digits and the characters . _ + - (such as xterm-256color).");
        return new TerminalRequest(term, TerminalSize.Of(terminal.Columns, terminal.Rows, terminal.XPixels, terminal.YPixels));
    }

    private static bool IsTermCharacter(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '+' or '-';
}
