using System.Buffers;
using FsCheck.Xunit;
using Ferry.Testing;

namespace Ferry.Protocol.Tests;

/// <summary>
/// The sticky-packet (粘包) proof: the same frames decode identically however TCP chops or glues them —
/// delivered one write per frame, all coalesced in one write, split at every byte boundary, one byte per write,
/// and in random chunk sizes.
/// </summary>
public class FragmentationTests
{
    private static readonly byte[][] s_frames = FrameSequences.Standard();
    private static readonly byte[] s_all = FrameBytes.Concat(s_frames);
    private static readonly List<DecodedFrame> s_expected = FrameSequences.DecodeSequence(new ReadOnlySequence<byte>(s_all));

    [Fact]
    public void Reference_decoding_sees_every_frame()
    {
        Assert.Equal(s_frames.Length, s_expected.Count);
        Assert.Equal(["hello", "echo", "echo", "put", "ls", "echo", "echo"], s_expected.Select(f => f.Command));
        Assert.Equal("68656C6C6F", s_expected[3].BodyHex); // the classic put's 'filesize' declared its body
        Assert.Equal("", s_expected[2].BodyHex);
        Assert.Equal(20_000 * 2, s_expected[5].BodyHex.Length);
    }

    [Fact]
    public async Task One_write_per_frame()
    {
        var decoded = await FrameSequences.DecodeStreamingAsync(s_frames.Select(f => (ReadOnlyMemory<byte>)f));
        Assert.Equal(s_expected, decoded);
    }

    [Fact]
    public async Task All_frames_coalesced_in_one_write()
    {
        var decoded = await FrameSequences.DecodeStreamingAsync([s_all]);
        Assert.Equal(s_expected, decoded);
    }

    [Fact]
    public void Split_at_every_byte_boundary_pure_decoder()
    {
        for (var split = 0; split <= s_all.Length; split++)
        {
            var sequence = FrameSequences.Segmented([s_all.AsMemory(0, split), s_all.AsMemory(split)]);
            var decoded = FrameSequences.DecodeSequence(sequence);
            Assert.True(s_expected.SequenceEqual(decoded), $"split at {split}");
        }
    }

    [Fact]
    public async Task Split_at_every_byte_boundary_streaming_reader()
    {
        // The streaming reader is slower per run; every boundary of the headers and small bodies, and a stride through the large body.
        var largeStart = s_frames.Take(5).Sum(f => f.Length);
        var largeEnd = largeStart + s_frames[5].Length;
        for (var split = 1; split < s_all.Length; split += split > largeStart + 64 && split < largeEnd - 64 ? 97 : 1)
        {
            var decoded = await FrameSequences.DecodeStreamingAsync([s_all.AsMemory(0, split), s_all.AsMemory(split)]);
            Assert.True(s_expected.SequenceEqual(decoded), $"split at {split}");
        }
    }

    [Fact]
    public async Task One_byte_per_write()
    {
        var decoded = await FrameSequences.DecodeStreamingAsync(Enumerable.Range(0, s_all.Length).Select(i => (ReadOnlyMemory<byte>)s_all.AsMemory(i, 1)));
        Assert.Equal(s_expected, decoded);
    }

    [Fact]
    public void One_byte_per_segment_pure_decoder()
    {
        var pieces = Enumerable.Range(0, s_all.Length).Select(i => (ReadOnlyMemory<byte>)s_all.AsMemory(i, 1)).ToList();
        Assert.Equal(s_expected, FrameSequences.DecodeSequence(FrameSequences.Segmented(pieces)));
    }

    /// <summary>FsCheck picks the seed; on failure it prints it, and the same seed reproduces the chunking.</summary>
    [Property(MaxTest = 60)]
    public void Random_chunk_sizes_streaming_reader(int seed, byte maxChunkSeed)
    {
        var maxChunk = 1 + maxChunkSeed * 40;
        var chunks = FrameSequences.RandomChunks(s_all, new Random(seed), maxChunk);
        var decoded = FrameSequences.DecodeStreamingAsync(chunks).GetAwaiter().GetResult();
        Assert.True(s_expected.SequenceEqual(decoded), $"seed {seed}, max chunk {maxChunk}");
    }

    [Property(MaxTest = 200)]
    public void Random_chunk_sizes_pure_decoder(int seed, byte maxChunkSeed)
    {
        var chunks = FrameSequences.RandomChunks(s_all, new Random(seed), 1 + maxChunkSeed * 40);
        Assert.True(s_expected.SequenceEqual(FrameSequences.DecodeSequence(FrameSequences.Segmented(chunks))), $"seed {seed}");
    }
}
