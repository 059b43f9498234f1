using System.Diagnostics;
using Ferry.Client.Transfers;
using Ferry.Testing;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests;

/// <summary>Transfers big enough to matter: run one at a time (they share the disk and the two CI cores).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LargeTransfers
{
    public const string Name = "Large transfers";
}

/// <summary>Gigabyte files end to end through the client library, compared by streamed hash.</summary>
[Collection(LargeTransfers.Name)]
public class LargeFileTests(ITestOutputHelper output)
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public async Task A_1_GiB_file_put_then_get_is_byte_identical()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory("ferry-1g");
        var source = TestFiles.Create(local.Combine("one.gib"), 1024 * MiB, seed: 7);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        await client.MkdirAsync("big", cancellationToken: timeout.Token);
        var put = await client.PutFileAsync(source, "big/one.gib", cancellationToken: timeout.Token);
        var stored = Path.Combine(server.Root, "big", "one.gib");
        Assert.Equal(1024 * MiB, put.Bytes);
        TestFiles.AssertSame(source, stored);

        var target = local.Combine("copy.gib");
        var get = await client.GetFileAsync("big/one.gib", target, cancellationToken: timeout.Token);
        Assert.Equal(put.Hash, get.Hash);
        TestFiles.AssertSame(source, target);
        output.WriteLine($"1 GiB put: {put.Seconds:0.00} s ({1024 / put.Seconds:0} MiB/s); get: {get.Seconds:0.00} s ({1024 / get.Seconds:0} MiB/s)");
    }

    /// <summary>
    /// 5 GiB each way takes about 40 s on the 2-core CI machine (the disk, not the network, is the limit), hence Slow:
    /// <c>dotnet test --filter "Category!=Slow"</c> leaves it out.
    /// </summary>
    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_file_over_4_GiB_keeps_every_byte_across_the_32_bit_boundary()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        using var local = new TempDirectory("ferry-5g");
        var size = 5L << 30;
        var source = local.Combine("sparse.bin");
        using (var file = new FileStream(source, FileMode.CreateNew, FileAccess.Write))
        {
            file.SetLength(size);
            foreach (var (offset, text) in new[] { (0L, "start"), ((4L << 30) - 3, "across-4GiB"), (size - 3, "end") })
            {
                file.Position = offset;
                file.Write(System.Text.Encoding.ASCII.GetBytes(text).AsSpan(0, Math.Min(text.Length, (int)(size - offset))));
            }
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));

        var watch = Stopwatch.StartNew();
        var put = await client.PutFileAsync(source, "sparse.bin", cancellationToken: timeout.Token);
        Assert.Equal(size, put.Bytes);
        var stored = Path.Combine(server.Root, "sparse.bin");
        Assert.Equal(size, new FileInfo(stored).Length);
        Assert.Equal(ReadAt(source, (4L << 30) - 3, 11), ReadAt(stored, (4L << 30) - 3, 11));

        var target = local.Combine("back.bin");
        var get = await client.GetFileAsync("sparse.bin", target, cancellationToken: timeout.Token);
        Assert.Equal(put.Hash, get.Hash);
        Assert.Equal(size, new FileInfo(target).Length);
        foreach (var offset in new[] { 0L, (4L << 30) - 3, size - 3 })
            Assert.Equal(ReadAt(source, offset, 3), ReadAt(target, offset, 3));
        Assert.Equal("across-4GiB", System.Text.Encoding.ASCII.GetString(ReadAt(target, (4L << 30) - 3, 11)));
        output.WriteLine($"5 GiB sparse: put {put.Seconds:0.0} s, get {get.Seconds:0.0} s, total {watch.Elapsed.TotalSeconds:0.0} s");
    }

    private static byte[] ReadAt(string path, long offset, int count)
    {
        using var handle = File.OpenHandle(path);
        var buffer = new byte[count];
        RandomAccess.Read(handle, buffer, offset);
        return buffer;
    }
}
