using System.Buffers.Binary;
using System.IO.Hashing;

namespace Ferry.IntegrationTests;

/// <summary>Test data on disk: deterministic content written fast, compared by a streamed hash (never loaded whole).</summary>
internal static class TestFiles
{
    private const int Block = 1024 * 1024;

    /// <summary>
    /// Writes <paramref name="size"/> bytes: a random 1 MiB block from <paramref name="seed"/>, each copy stamped with its
    /// block number, so that no two blocks (and no two files of different seeds) are alike.
    /// </summary>
    public static string Create(string path, long size, int seed)
    {
        var pattern = new byte[Block];
        new Random(seed).NextBytes(pattern);
        var block = new byte[Block];
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 0, FileOptions.SequentialScan);
        file.SetLength(size);
        for (long written = 0, index = 0; written < size; index++)
        {
            pattern.CopyTo(block, 0);
            BinaryPrimitives.WriteInt64LittleEndian(block, index ^ seed);
            var n = (int)Math.Min(Block, size - written);
            file.Write(block, 0, n);
            written += n;
        }
        return path;
    }

    /// <summary>Small text-ish file.</summary>
    public static string CreateText(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return path;
    }

    /// <summary>XXH3-128 of the file's content, read in 1 MiB pieces.</summary>
    public static string Hash(string path)
    {
        var hash = new XxHash128();
        var buffer = new byte[Block];
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 0, FileOptions.SequentialScan);
        int n;
        while ((n = file.Read(buffer, 0, buffer.Length)) > 0)
            hash.Append(buffer.AsSpan(0, n));
        return Convert.ToHexStringLower(hash.GetCurrentHash());
    }

    /// <summary>Asserts two files have the same length and content.</summary>
    public static void AssertSame(string expected, string actual)
    {
        Assert.True(File.Exists(actual), $"'{actual}' does not exist");
        Assert.Equal(new FileInfo(expected).Length, new FileInfo(actual).Length);
        Assert.Equal(Hash(expected), Hash(actual));
    }
}
