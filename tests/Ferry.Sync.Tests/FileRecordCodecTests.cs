using System.Buffers;
using Ferry.Protocol.Errors;
using Ferry.Sync.Batching;

namespace Ferry.Sync.Tests;

/// <summary>The put_files record layout (docs/protocol.md §5.9.7): round trips, its size per file, and every way a body can lie.</summary>
public class FileRecordCodecTests
{
    private static readonly byte[] Hash = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();

    private static byte[] Encode(params (string Name, int? Mode, long? Time, bool Force, byte[] Content)[] files)
    {
        var body = new ArrayBufferWriter<byte>();
        var writer = new FileRecordWriter();
        foreach (var f in files)
            writer.Write(body, f.Name, f.Mode, f.Time, f.Force, Hash, f.Content);
        Assert.Equal(files.Length, writer.Count);
        Assert.Equal(body.WrittenCount, writer.Length);
        return body.WrittenSpan.ToArray();
    }

    private static string Refusal(byte[] body, int count)
    {
        var error = Assert.Throws<FerryException>(() => FileRecordReader.ReadAll(body, count));
        Assert.Equal(FerryErrorCode.FieldInvalid, error.Code);
        return error.Message;
    }

    [Fact]
    public void Names_times_modes_flags_and_contents_survive_the_round_trip()
    {
        (string, int?, long?, bool, byte[])[] files =
        [
            ("dir/a.txt", 420, 1_764_000_000_123_456_789, true, [1, 2, 3]),
            ("dir/b.txt", null, 1_764_000_000_000_000_000, false, []),
            ("dir/é/ü.bin", 0x1FF, null, true, new byte[5000]),
            ("other", 0, -5, false, [9]),
            ("other2", 384, long.MaxValue, true, [7, 7]),
        ];
        var records = FileRecordReader.ReadAll(Encode(files), files.Length);

        Assert.Equal(files.Length, records.Count);
        for (var i = 0; i < files.Length; i++)
        {
            var (name, mode, time, force, content) = files[i];
            Assert.Equal((name, mode, time, force), (records[i].Name, records[i].Mode, records[i].ModifiedNs, records[i].Force));
            Assert.Equal(content, records[i].Content.ToArray());
            Assert.Equal(Hash, records[i].Hash.ToArray());
        }
    }

    [Fact]
    public void A_small_file_next_to_its_sibling_costs_its_new_name_bytes_and_about_twenty_more()
    {
        var first = Encode(("small-fresh/g0/s0000.txt", 420, 1_764_000_000_000_000_000, true, new byte[4096]));
        var both = Encode(("small-fresh/g0/s0000.txt", 420, 1_764_000_000_000_000_000, true, new byte[4096]),
            ("small-fresh/g0/s0010.txt", 420, 1_764_000_000_000_250_000, true, new byte[4096]));
        // keep 1 + add 1 + "10.txt" 6 + flags 1 + mode 2 + time difference 3 + size 2 + hash 16
        Assert.Equal(32, both.Length - first.Length - 4096);
    }

    [Fact]
    public void A_name_split_inside_a_multi_byte_character_is_rebuilt_from_its_bytes()
    {
        // "é" is C3 A9 and "è" C3 A8: the second name keeps the C3 of the first.
        var records = FileRecordReader.ReadAll(Encode(("é", null, null, false, [1]), ("è", null, null, false, [2])), 2);
        Assert.Equal(["é", "è"], records.Select(r => r.Name));
    }

    [Fact]
    public void A_count_that_the_body_does_not_hold_is_refused()
    {
        var body = Encode(("a", null, null, false, [1]), ("b", null, null, false, [2]));
        Assert.Contains("ends after 2 records", Refusal(body, 3));
        Assert.Contains("follow the last", Refusal(body, 1));
        Assert.Contains("at least one", Refusal(body, 0));
        Assert.Contains("ends after 0 records", Refusal([], 1));
    }

    [Fact]
    public void A_length_that_runs_past_the_body_is_refused()
    {
        var body = Encode(("a", null, null, false, new byte[10]));
        Assert.Contains("run past the end", Refusal(body[..^1], 1));
        // The size varint (10) sits right before the hash: claim 11 bytes.
        var lying = (byte[])body.Clone();
        var sizeAt = body.Length - 10 - 16 - 1;
        Assert.Equal(10, lying[sizeAt]);
        lying[sizeAt] = 11;
        Assert.Contains("run past the end", Refusal(lying, 1));
        // A name longer than what is left.
        Assert.Contains("name runs past", Refusal([0, 50, (byte)'a'], 1));
        Assert.Contains("longer than", Refusal([0, 0x81, 0x40], 1));
    }

    [Fact]
    public void A_name_that_keeps_more_than_the_previous_one_had_is_refused()
    {
        var body = Encode(("ab", null, null, false, [1]), ("ac", null, null, false, [2]));
        var lying = (byte[])body.Clone();
        var second = body.Length - (1 + 1 + 1 + 1 + 1 + 16 + 1); // keep, add, "c", flags, size, hash, content
        Assert.Equal(1, lying[second]);
        lying[second] = 3;
        Assert.Contains("keeps 3 bytes of a previous name of 2", Refusal(lying, 2));
        Assert.Contains("keeps 1 bytes of a previous name of 0", Refusal([1, 1, (byte)'a', 0, 0, .. Hash], 1));
    }

    [Fact]
    public void Unknown_flags_a_name_that_is_not_utf8_and_malformed_numbers_are_refused()
    {
        Assert.Contains("unknown flags 0x08", Refusal([0, 1, (byte)'a', 8, 0, .. Hash], 1));
        Assert.Contains("not UTF-8", Refusal([0, 1, 0xFF, 0, 0, .. Hash], 1));
        Assert.Contains("not UTF-8", Refusal([0, 2, 0xC3, (byte)'a', 0, 0, .. Hash], 1));
        Assert.Contains("malformed or cut off", Refusal([0, 1, (byte)'a', 1, 0x80], 1));
        Assert.Contains("malformed or cut off", Refusal([0, 1, (byte)'a', 0, 0x80, 0x00, .. Hash], 1)); // a needless byte
        Assert.Contains("mode", Refusal([0, 1, (byte)'a', 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0, .. Hash], 1));
        Assert.Contains("cut off before its flags", Refusal([0, 1, (byte)'a'], 1));
    }

    [Fact]
    public void The_writer_refuses_what_a_record_cannot_say()
    {
        var body = new ArrayBufferWriter<byte>();
        var writer = new FileRecordWriter();
        Assert.Throws<ArgumentException>(() => writer.Write(body, new string('a', FileRecordFormat.MaxNameBytes + 1), null, null, false, Hash, []));
        Assert.Throws<ArgumentException>(() => writer.Write(body, "a", -1, null, false, Hash, []));
        Assert.Throws<ArgumentException>(() => writer.Write(body, "a", null, null, false, Hash.AsSpan(1), []));
        Assert.Equal(0, body.WrittenCount);
        writer.Write(body, new string('a', FileRecordFormat.MaxNameBytes), null, null, false, Hash, []);
        Assert.Equal(FileRecordFormat.MaxNameBytes, FileRecordReader.ReadAll(body.WrittenMemory, 1)[0].Name.Length);
    }
}
