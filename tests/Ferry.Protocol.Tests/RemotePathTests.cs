using Ferry.Protocol.Errors;
using Ferry.Protocol.Files;

namespace Ferry.Protocol.Tests;

/// <summary>Remote path syntax (docs/protocol.md §5.1), including inputs found by fuzzing (docs/fuzzing.md).</summary>
public class RemotePathTests
{
    [Theory]
    [InlineData("C:x")]
    [InlineData("C:/x")]
    [InlineData("./C: gb")] // found by fuzz/run.sh path: used to normalize to "C: gb", which Normalize itself refuses
    [InlineData("./C:/Windows")]
    [InlineData("a/../C:x")]
    [InlineData(".//z:")]
    public void A_path_that_is_or_normalizes_to_a_drive_letter_is_refused(string path)
    {
        var ex = Assert.Throws<FerryException>(() => RemotePath.Normalize(path));
        Assert.Equal(FerryErrorCode.PathInvalid, ex.Code);
    }

    [Theory]
    [InlineData("a/C:x", "a/C:x")]
    [InlineData("./a/C:", "a/C:")]
    [InlineData("C", "C")]
    [InlineData("./C", "C")]
    [InlineData("1:x", "1:x")]
    public void A_colon_elsewhere_is_an_ordinary_character(string path, string expected) =>
        Assert.Equal(expected, RemotePath.Normalize(path));

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("a/./b//c/")]
    [InlineData("a/b/../../c")]
    [InlineData("./x/../C:y/z")]
    [InlineData("文件/ü/../é")]
    public void Normalizing_twice_gives_the_same_path_or_the_same_refusal(string path)
    {
        string once;
        try
        {
            once = RemotePath.Normalize(path);
        }
        catch (FerryException)
        {
            return;
        }
        Assert.Equal(once, RemotePath.Normalize(once));
    }
}
