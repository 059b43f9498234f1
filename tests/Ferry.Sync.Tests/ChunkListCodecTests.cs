using FsCheck;
using FsCheck.Xunit;
using Ferry.Protocol.Errors;
using Ferry.Sync.Chunking;
using Ferry.Sync.Delta;

namespace Ferry.Sync.Tests;

public class ChunkListCodecTests
{
    private static ChunkList SampleList(int count, int seed, ChunkIdWidth width)
    {
        var random = new Random(seed);
        var chunks = new List<Chunk>();
        long offset = 0;
        for (var i = 0; i < count; i++)
        {
            var length = random.Next(4) == 0 ? random.Next(1, 200) : random.Next(1, 16 * 1024 * 1024 + 1);
            var id = new UInt128((ulong)random.NextInt64(), (ulong)random.NextInt64());
            chunks.Add(new Chunk(offset, length, new ChunkId(id)));
            offset += length;
        }
        return new ChunkList(chunks, width);
    }

    private static ChunkListFormatError DecodeError(byte[] encoded, ChunkListLimits? limits = null) =>
        Assert.Throws<ChunkListFormatException>(() => ChunkListCodec.Decode(encoded, limits)).Reason;

    [Property(MaxTest = 100)]
    public void Full_ids_survive_the_round_trip(NonNegativeInt count, int seed)
    {
        var list = SampleList(count.Get % 300, seed, ChunkIdWidth.Bits128);

        var decoded = ChunkListCodec.Decode(ChunkListCodec.Encode(list));

        Assert.Equal(list.Chunks, decoded.Chunks);
        Assert.Equal(list.TotalLength, decoded.TotalLength);
        Assert.Equal(ChunkIdWidth.Bits128, decoded.IdWidth);
    }

    [Property(MaxTest = 100)]
    public void Short_ids_keep_the_low_64_bits(NonNegativeInt count, int seed)
    {
        var list = SampleList(count.Get % 300, seed, ChunkIdWidth.Bits64);

        var encoded = ChunkListCodec.Encode(list);
        var decoded = ChunkListCodec.Decode(encoded);

        Assert.Equal(list.Chunks.Select(c => (c.Offset, c.Length, (UInt128)c.Id.Low64)), decoded.Chunks.Select(c => (c.Offset, c.Length, c.Id.Value)));
        Assert.True(encoded.Length < ChunkListCodec.Encode(new ChunkList(list.Chunks, ChunkIdWidth.Bits128)).Length || list.Chunks.Count == 0);
    }

    [Fact]
    public void A_16_KiB_chunk_costs_three_length_bytes_and_the_id()
    {
        var list = new ChunkList([new Chunk(0, 16 * 1024, new ChunkId(1))], ChunkIdWidth.Bits64);

        Assert.Equal(2 + 1 + 3 + 8, ChunkListCodec.Encode(list).Length);
    }

    [Fact]
    public void Errors_carry_a_stable_code() =>
        Assert.Equal(FerryErrorCode.FieldInvalid, Assert.Throws<ChunkListFormatException>(() => ChunkListCodec.Decode([9, 16, 0])).Code);

    [Fact]
    public void Every_truncation_is_refused_as_truncated()
    {
        var encoded = ChunkListCodec.Encode(SampleList(20, 5, ChunkIdWidth.Bits128));

        for (var length = 0; length < encoded.Length; length++)
        {
            var reason = DecodeError(encoded[..length]);
            // A cut inside the count can leave a count the rest cannot hold; both are honest answers.
            Assert.True(reason is ChunkListFormatError.Truncated or ChunkListFormatError.TooManyChunks, $"length {length}: {reason}");
        }
    }

    [Fact]
    public void Header_errors_are_named()
    {
        Assert.Equal(ChunkListFormatError.UnsupportedVersion, DecodeError([2, 16, 0]));
        Assert.Equal(ChunkListFormatError.UnsupportedIdWidth, DecodeError([1, 4, 0]));
        Assert.Equal(ChunkListFormatError.TrailingBytes, DecodeError([1, 16, 0, 0]));
        Assert.Empty(ChunkListCodec.Decode([1, 16, 0]).Chunks);
    }

    [Fact]
    public void A_huge_count_is_refused_before_anything_is_allocated()
    {
        // 2^63 chunks declared, in a 12-byte input.
        byte[] encoded = [1, 8, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
        var before = GC.GetAllocatedBytesForCurrentThread();

        Assert.Equal(ChunkListFormatError.TooManyChunks, DecodeError(encoded));

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024);
    }

    [Fact]
    public void The_count_limit_applies_even_when_the_input_holds_the_chunks()
    {
        var encoded = ChunkListCodec.Encode(SampleList(10, 6, ChunkIdWidth.Bits64));

        Assert.Equal(ChunkListFormatError.TooManyChunks, DecodeError(encoded, new ChunkListLimits { MaxChunks = 9 }));
        Assert.Equal(10, ChunkListCodec.Decode(encoded, new ChunkListLimits { MaxChunks = 10 }).Chunks.Count);
    }

    [Fact]
    public void Lengths_are_checked()
    {
        byte[] zeroLength = [1, 8, 1, 0, .. new byte[8]];
        byte[] tooLong = [1, 8, 1, 0x81, 0x80, 0x01, .. new byte[8]]; // 16 385
        byte[] twoOfFour = [1, 8, 2, 0x80, 0x20, .. new byte[8], 0x80, 0x20, .. new byte[8]]; // 2 × 4096

        Assert.Equal(ChunkListFormatError.ChunkLengthInvalid, DecodeError(zeroLength));
        Assert.Equal(ChunkListFormatError.ChunkLengthInvalid, DecodeError(tooLong, new ChunkListLimits { MaxChunkLength = 16 * 1024 }));
        Assert.Equal(ChunkListFormatError.TotalLengthTooLarge, DecodeError(twoOfFour, new ChunkListLimits { MaxTotalLength = 8191 }));
        Assert.Equal(8192, ChunkListCodec.Decode(twoOfFour, new ChunkListLimits { MaxTotalLength = 8192 }).TotalLength);
    }

    [Fact]
    public void Numbers_have_one_encoding_and_fit_64_bits()
    {
        byte[] padded = [1, 8, 0x80, 0x00];
        byte[] eleven = [1, 8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
        byte[] overflow = [1, 8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02];

        Assert.Equal(ChunkListFormatError.MalformedNumber, DecodeError(padded));
        Assert.Equal(ChunkListFormatError.MalformedNumber, DecodeError(eleven));
        Assert.Equal(ChunkListFormatError.MalformedNumber, DecodeError(overflow));
    }

    [Property(MaxTest = 500)]
    public void Arbitrary_bytes_decode_or_fail_with_a_format_error(byte[] input, bool validHeader)
    {
        byte[] candidate = validHeader && input is not null ? [1, (byte)(input.Length % 2 == 0 ? 8 : 16), .. input] : input ?? [];

        try
        {
            var list = ChunkListCodec.Decode(candidate);
            Assert.Equal(candidate, ChunkListCodec.Encode(list));
        }
        catch (ChunkListFormatException)
        {
        }
    }
}
