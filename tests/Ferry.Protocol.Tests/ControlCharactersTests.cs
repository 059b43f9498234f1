using FsCheck;
using FsCheck.Xunit;
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

    [Property(MaxTest = 500)]
    public bool Escaped_text_never_contains_a_control_or_bidi_character(string? text) =>
        !ControlCharacters.Escape(text).Any(ControlCharacters.IsUnsafe);

    [Property(MaxTest = 300)]
    public bool Escaping_only_adds_visible_escapes_so_escaping_twice_changes_nothing(string? text) =>
        ControlCharacters.Escape(ControlCharacters.Escape(text)) == ControlCharacters.Escape(text);

    [Property(MaxTest = 300)]
    public bool Text_with_only_printable_characters_is_returned_unchanged(NonNull<string> text)
    {
        var printable = new string(text.Get.Where(c => !ControlCharacters.IsUnsafe(c) && !char.IsSurrogate(c)).ToArray());
        return ReferenceEquals(printable, ControlCharacters.Escape(printable)) || printable.Length == 0;
    }

    [Fact]
    public void Every_character_class_of_a_control_character_is_escaped_by_its_code()
    {
        // Every C0, DEL and every C1 control: none survives, each becomes \xNN.
        for (var c = 0; c < 0xa0; c++)
        {
            if (c is >= 0x20 and < 0x7f)
                continue;
            Assert.Equal($"a\\x{c:x2}b", ControlCharacters.Escape($"a{(char)c}b"));
        }
        foreach (var c in "\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
            Assert.Equal($"\\u{{{(int)c:X4}}}", ControlCharacters.Escape(c.ToString()));
    }

    [Fact]
    public void Terminal_attacks_become_visible_text()
    {
        Assert.Equal("\\x1b]0;pwned\\x07 done\\x0d", ControlCharacters.Escape("\u001b]0;pwned\u0007 done\r"));
        Assert.Equal("\\x1b[2J\\x9b31m", ControlCharacters.Escape("\u001b[2J\u009b31m"));
        Assert.Equal("invoice\\u{202E}fdp.exe", ControlCharacters.Escape("invoice\u202efdp.exe"));
        Assert.Equal("", ControlCharacters.Escape(null));
        Assert.Equal("naïve 文件 C:\\dir ✓", ControlCharacters.Escape("naïve 文件 C:\\dir ✓"));
    }
}
