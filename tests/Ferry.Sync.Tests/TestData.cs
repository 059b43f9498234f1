namespace Ferry.Sync.Tests;

/// <summary>Reproducible pseudo-random content: the same seed gives the same bytes on every run and machine.</summary>
internal static class TestData
{
    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
