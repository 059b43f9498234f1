using System.Diagnostics;
using Ferry.Sync.Filtering;

namespace Ferry.Sync.Tests;

/// <summary>The examples of gitignore(5), and the corners of its pattern syntax.</summary>
public class IgnorePatternTests
{
    private static bool File(string pattern, string path) => IgnorePattern.Parse(pattern).Matches(path, isDirectory: false);

    private static bool Folder(string pattern, string path) => IgnorePattern.Parse(pattern).Matches(path, isDirectory: true);

    [Fact]
    public void A_name_without_slash_matches_at_any_depth()
    {
        // "The pattern hello.* matches any file or directory whose name begins with hello."
        Assert.True(File("hello.*", "hello.txt"));
        Assert.True(File("hello.*", "a/b/hello.c"));
        Assert.True(Folder("hello.*", "hello.d"));
        Assert.False(File("hello.*", "ahello.txt"));
        Assert.False(File("hello.*", "hello"));
    }

    [Fact]
    public void A_trailing_slash_matches_folders_only()
    {
        // "doc/frotz/ matches doc/frotz directory, but not a/doc/frotz directory; frotz/ matches frotz and a/frotz
        // that are directories."
        Assert.True(Folder("doc/frotz/", "doc/frotz"));
        Assert.False(Folder("doc/frotz/", "a/doc/frotz"));
        Assert.False(File("doc/frotz/", "doc/frotz"));
        Assert.True(Folder("frotz/", "frotz"));
        Assert.True(Folder("frotz/", "a/frotz"));
        Assert.False(File("frotz/", "a/frotz"));
    }

    [Fact]
    public void A_slash_at_the_start_or_in_the_middle_anchors()
    {
        // "The pattern /*.c matches cat-file.c but not mozilla-sha1/sha1.c."
        Assert.True(File("/*.c", "cat-file.c"));
        Assert.False(File("/*.c", "mozilla-sha1/sha1.c"));
        // "foo/* matches foo/test.json and foo/bar, but not foo/bar/hello.c."
        Assert.True(File("foo/*", "foo/test.json"));
        Assert.True(Folder("foo/*", "foo/bar"));
        Assert.False(File("foo/*", "foo/bar/hello.c"));
        Assert.False(File("foo/*", "a/foo/test.json"));
    }

    [Fact]
    public void Double_asterisks_span_folders()
    {
        // "**/foo matches file or directory foo anywhere"; "**/foo/bar matches bar anywhere directly under foo".
        Assert.True(File("**/foo", "foo"));
        Assert.True(Folder("**/foo", "a/b/foo"));
        Assert.True(File("**/foo/bar", "foo/bar"));
        Assert.True(File("**/foo/bar", "x/y/foo/bar"));
        Assert.False(File("**/foo/bar", "foo/x/bar"));
        // "abc/** matches all files inside directory abc."
        Assert.True(File("abc/**", "abc/x"));
        Assert.True(File("abc/**", "abc/x/y/z"));
        Assert.False(Folder("abc/**", "abc"));
        Assert.False(File("abc/**", "x/abc/y"));
        // "a/**/b matches a/b, a/x/b, a/x/y/b and so on."
        Assert.True(File("a/**/b", "a/b"));
        Assert.True(File("a/**/b", "a/x/b"));
        Assert.True(File("a/**/b", "a/x/y/b"));
        Assert.False(File("a/**/b", "a/xb"));
        Assert.False(File("a/**/b", "ab"));
        // "Other consecutive asterisks are considered regular asterisks."
        Assert.True(File("a**b", "axxb"));
        Assert.False(File("a**b", "a/b"));
        Assert.True(File("**", "any/thing/at/all"));
    }

    [Fact]
    public void Question_marks_and_sets_never_match_a_slash()
    {
        Assert.True(File("a?c", "abc"));
        Assert.False(File("a?c", "a/c"));
        Assert.False(File("a?c", "ac"));
        Assert.True(File("[abc].txt", "b.txt"));
        Assert.False(File("[abc].txt", "d.txt"));
        Assert.True(File("[!abc].txt", "d.txt"));
        Assert.True(File("[^abc].txt", "d.txt"));
        Assert.False(File("[!abc].txt", "a.txt"));
        Assert.True(File("x[a-c]", "xb"));
        Assert.False(File("x[a-c]", "xd"));
        Assert.True(File("[[:digit:]]*.log", "7days.log"));
        Assert.False(File("[[:digit:]]*.log", "days.log"));
        Assert.True(File("[]]", "]"));
        Assert.True(File("[a-]", "-"));
        Assert.False(File("a[/]b", "a/b"));
        Assert.False(File("a[!x]b", "a/b"));
        Assert.False(File("a[+-0]b", "a/b")); // the range holds '/', which still never matches
        Assert.True(File("a[+-0]b", "a.b"));
    }

    [Fact]
    public void An_unclosed_bracket_is_literal()
    {
        Assert.True(File("[abc", "[abc"));
        Assert.False(File("[abc", "a"));
    }

    [Fact]
    public void Escapes_comments_negation_and_trailing_spaces()
    {
        Assert.False(IgnorePattern.TryParse("# a comment", out _));
        Assert.False(IgnorePattern.TryParse("", out _));
        Assert.False(IgnorePattern.TryParse("   ", out _));
        Assert.True(File(@"\#foo", "#foo"));
        // "Put a backslash in front of the first '!' for patterns that begin with a literal '!'."
        var literal = IgnorePattern.Parse(@"\!important!.txt");
        Assert.False(literal.IsNegated);
        Assert.True(literal.Matches("!important!.txt", false));
        var negated = IgnorePattern.Parse("!keep.log");
        Assert.True(negated.IsNegated);
        Assert.True(negated.Matches("keep.log", false));
        // "Trailing spaces are ignored unless they are quoted with backslash."
        Assert.True(File("foo   ", "foo"));
        Assert.True(File(@"foo\ ", "foo "));
        Assert.False(File(@"foo\ ", "foo"));
        Assert.True(File("foo\r", "foo"));
        Assert.True(File("a.b", "a.b"));
        Assert.False(File("a.b", "axb")); // regular-expression characters are literal
        Assert.True(File("(x)+{1}$", "(x)+{1}$"));
    }

    [Fact]
    public void A_pathological_pattern_matches_in_linear_time()
    {
        var pattern = IgnorePattern.Parse(string.Concat(Enumerable.Repeat("*a", 30)) + "b");
        var path = new string('a', 5000);

        var clock = Stopwatch.StartNew();
        Assert.False(pattern.Matches(path, false));

        // A backtracking matcher takes longer than the universe has; this one a few milliseconds.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), clock.Elapsed.ToString());
    }
}
