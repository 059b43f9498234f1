using Ferry.Protocol.Errors;
using Ferry.Sync.Batching;

namespace Ferry.Sync.Tests;

/// <summary>The names of a get_files request (docs/protocol.md §5.9.8): round trips, prefix sharing, and every way a body can lie.</summary>
public class FileNameListTests
{
    private static string Refusal(byte[] body, int count)
    {
        var error = Assert.Throws<FerryException>(() => FileNameList.Decode(body, count));
        Assert.Equal(FerryErrorCode.FieldInvalid, error.Code);
        return error.Message;
    }

    [Fact]
    public void Names_survive_the_round_trip_and_share_their_prefixes()
    {
        string[] names = ["small/g0/s0000.txt", "small/g0/s0010.txt", "small/g1/é.bin", "other", "o", new string('x', 4096)];
        var body = FileNameList.Encode(names);
        Assert.Equal(names, FileNameList.Decode(body, names.Length));
        // The second name costs its two varints and the 6 bytes it does not share with the first.
        Assert.Equal([12, 6, .. "10.txt"u8.ToArray()], body.AsSpan(2 + 18, 8).ToArray());
    }

    [Fact]
    public void A_body_that_lies_is_refused_with_field_invalid()
    {
        var two = FileNameList.Encode(["a/b", "a/c"]);
        Assert.Contains("ends after 2 names", Refusal(two, 3));
        Assert.Contains("bytes follow the last", Refusal(two, 1));
        Assert.Contains("runs past the end", Refusal(two[..^1], 2));
        Assert.Contains("keeps 5 bytes", Refusal([0, 1, (byte)'a', 5, 0], 2));
        Assert.Contains("longer than 4096", Refusal([0, 0x81, 0x20, .. new byte[4097]], 1));
        Assert.Contains("not UTF-8", Refusal([0, 1, 0xFF], 1));
        Assert.Contains("malformed or cut off", Refusal([0, 0x80], 1));
        Assert.Throws<ArgumentException>(() => FileNameList.Encode([new string('x', 4097)]));
    }
}
