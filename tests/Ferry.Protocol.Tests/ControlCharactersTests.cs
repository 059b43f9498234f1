using FsCheck;
using FsCheck.Xunit;
using Ferry.Protocol.Text;

namespace Ferry.Protocol.Tests;

/// <summary>What a hostile peer can put into a message or a name never reaches the terminal raw.</summary>
public class ControlCharactersTests
{
    [Property(MaxTest = 500)]
    public bool Escaped_text_never_contains_a_control_or_bidi_character(string? text) =>
        !ControlCharacters.Escape(text).Any(ControlCharacters.IsUnsafe);

    [Property(MaxTest = 300)]
    public bool Escaping_only_adds_visible_escapes_so_escaping_twice_changes_nothing(string? text) =>
        ControlCharacters.Escape(ControlCharacters.Escape(text)) == ControlCharacters.Escape(text);

    [Property(MaxTest = 300)]
    public bool Text_with_only_printable_characters_is_returned_unchanged(NonNull<string> text)
    {
        var printable = new string(text.Get.Where(c => !ControlCharacters.IsUnsafe(c)).ToArray());
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
            Assert.Equal($"\\u{(int)c:x4}", ControlCharacters.Escape(c.ToString()));
    }

    [Fact]
    public void Terminal_attacks_become_visible_text()
    {
        Assert.Equal("\\x1b]0;pwned\\x07 done\\x0d", ControlCharacters.Escape("\u001b]0;pwned\u0007 done\r"));
        Assert.Equal("\\x1b[2J\\x9b31m", ControlCharacters.Escape("\u001b[2J\u009b31m"));
        Assert.Equal("invoice\\u202efdp.exe", ControlCharacters.Escape("invoice\u202efdp.exe"));
        Assert.Equal("", ControlCharacters.Escape(null));
        Assert.Equal("naïve 文件 C:\\dir ✓", ControlCharacters.Escape("naïve 文件 C:\\dir ✓"));
    }
}
