using Ferry.Protocol.Text;

namespace Ferry.Protocol.Tests;

/// <summary>What <see cref="ControlCharacters.Escape"/> makes of text a peer chose, before it reaches a terminal or a log.</summary>
public class ControlCharactersTests
{
    [Theory]
    [InlineData("\u001b]0;pwned\u0007", @"\x1b]0;pwned\x07")]                  // OSC title + BEL
    [InlineData("\u001b[2J\u001b[H", @"\x1b[2J\x1b[H")]                       // clear screen
    [InlineData("ok\r\n2026-12-02 forged line", @"ok\x0d\x0a2026-12-02 forged line")]
    [InlineData("tab\there", @"tab\x09here")]
    [InlineData("nul\0", @"nul\x00")]
    [InlineData("del\u007f", @"del\x7f")]
    [InlineData("c1\u009b31m", @"c1\x9b31m")]                                 // 8-bit CSI
    [InlineData("evil\u202Etxt.exe", @"evil\u{202E}txt.exe")]                  // right-to-left override
    [InlineData("\u2066isolate\u2069", @"\u{2066}isolate\u{2069}")]
    [InlineData("line\u2028sep", @"line\u{2028}sep")]
    public void Control_characters_become_visible_escapes(string text, string expected) =>
        Assert.Equal(expected, ControlCharacters.Escape(text));

    [Fact]
    public void A_lone_surrogate_is_escaped_and_a_pair_is_kept() // not theory data: the runner would mangle the lone half
    {
        Assert.Equal(@"lone \u{D800} surrogate", ControlCharacters.Escape("lone \ud800 surrogate"));
        Assert.Equal(@"tail \u{DC00}", ControlCharacters.Escape("tail \udc00"));
        Assert.Equal("pair \ud83d\ude00", ControlCharacters.Escape("pair \ud83d\ude00"));
    }

    [Theory]
    [InlineData("plain ascii")]
    [InlineData("héllo wörld ✓ 日本語")]
    [InlineData("emoji 😀 pair")]
    [InlineData(@"back\slash \x1b stays as typed")]
    [InlineData("")]
    public void Printable_text_is_returned_unchanged_and_unallocated(string text)
    {
        Assert.Same(text, ControlCharacters.Escape(text));
        Assert.False(ControlCharacters.NeedsEscaping(text));
    }

    [Fact]
    public void Nothing_a_terminal_acts_on_survives_any_character()
    {
        for (var c = 0; c <= char.MaxValue; c++)
        {
            var escaped = ControlCharacters.Escape(((char)c).ToString());
            Assert.DoesNotContain(escaped, ch => ch < 0x20 || ch is >= '\u007f' and <= '\u009f' or '\u202e' or '\u2028' || char.IsSurrogate(ch));
        }
    }
}
