using System.Buffers;
using System.Text;
using Ferry.Sync.Delta;

namespace Ferry.Sync.Batching;

/// <summary>
/// The body of a get_files request (docs/protocol.md §5.9.8): names only, each as the name part of a put_files record
/// (<see cref="FileRecordFormat"/>): <c>[varint keep][varint add][add bytes]</c>, keep counted against the previous name.
/// </summary>
public static class FileNameList
{
    /// <summary>Bytes one name takes in the list, at most (without the prefix it shares with the one before).</summary>
    public static int MaxBytes(string name) => Encoding.UTF8.GetByteCount(name) + 20;

    /// <summary>The list of <paramref name="names"/>, in order.</summary>
    /// <exception cref="ArgumentException">A name longer than <see cref="FileRecordFormat.MaxNameBytes"/>.</exception>
    public static byte[] Encode(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var output = new ArrayBufferWriter<byte>();
        var previous = Array.Empty<byte>();
        foreach (var name in names)
        {
            var bytes = Encoding.UTF8.GetBytes(name);
            if (bytes.Length > FileRecordFormat.MaxNameBytes)
                throw new ArgumentException($"A name is at most {FileRecordFormat.MaxNameBytes} bytes.", nameof(names));
            var keep = bytes.AsSpan().CommonPrefixLength(previous);
            var span = output.GetSpan(bytes.Length - keep + 20);
            var n = Varint.Write(span, (ulong)keep);
            n += Varint.Write(span[n..], (ulong)(bytes.Length - keep));
            bytes.AsSpan(keep).CopyTo(span[n..]);
            output.Advance(n + bytes.Length - keep);
            previous = bytes;
        }
        return output.WrittenSpan.ToArray();
    }

    /// <summary>The <paramref name="count"/> names of <paramref name="body"/>, which must hold exactly those.</summary>
    /// <exception cref="FerryException"><c>field_invalid</c>: a name cut off, longer than 4096 bytes, keeping more than the previous name had, not UTF-8, or a count the body does not hold.</exception>
    public static List<string> Decode(ReadOnlySpan<byte> body, int count)
    {
        var names = new List<string>(Math.Min(count, 1024));
        var reader = BatchBodyReader.ForNames();
        var position = 0;
        for (var index = 0; index < count; index++)
        {
            if (position == body.Length)
                throw reader.Invalid(index, $"the body ends after {index} names, but count says {count}.");
            names.Add(reader.Name(body, ref position, index));
        }
        if (position != body.Length)
            throw reader.Invalid(count, $"{body.Length - position} bytes follow the last of its {count} names.");
        return names;
    }
}
