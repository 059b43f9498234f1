using System.Buffers;
using System.Text;
using Ferry.Sync.Delta;

namespace Ferry.Sync.Batching;

/// <summary>
/// Writes the records of one put_files body (<see cref="FileRecordFormat"/>): each name against the one before it, each
/// time against the last one given. One writer per frame: a new frame starts from an empty name and time 0.
/// </summary>
public sealed class FileRecordWriter
{
    private byte[] _previousName = [];
    private long _previousTime;

    /// <summary>Records written so far.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes written so far (records and contents).</summary>
    public long Length { get; private set; }

    /// <summary>Appends one file's record, content included, to <paramref name="output"/>.</summary>
    /// <exception cref="ArgumentException">A name longer than <see cref="FileRecordFormat.MaxNameBytes"/>, a negative mode, or a hash that is not 16 bytes.</exception>
    public void Write(IBufferWriter<byte> output, string name, int? mode, long? modifiedNs, bool force, ReadOnlySpan<byte> hash, ReadOnlySpan<byte> content)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(name);
        var nameBytes = Encoding.UTF8.GetBytes(name);
        if (nameBytes.Length > FileRecordFormat.MaxNameBytes)
            throw new ArgumentException($"A record's name is at most {FileRecordFormat.MaxNameBytes} bytes.", nameof(name));
        if (mode is < 0)
            throw new ArgumentException("A mode is not negative.", nameof(mode));
        if (hash.Length != FileRecordFormat.HashBytes)
            throw new ArgumentException($"The hash is {FileRecordFormat.HashBytes} bytes.", nameof(hash));

        var keep = nameBytes.AsSpan().CommonPrefixLength(_previousName);
        var span = output.GetSpan(FileRecordFormat.MaxOverhead(nameBytes.Length));
        var n = Varint.Write(span, (ulong)keep);
        n += Varint.Write(span[n..], (ulong)(nameBytes.Length - keep));
        nameBytes.AsSpan(keep).CopyTo(span[n..]);
        n += nameBytes.Length - keep;
        span[n++] = (byte)((mode is null ? 0 : FileRecordFormat.HasMode) | (modifiedNs is null ? 0 : FileRecordFormat.HasTime) | (force ? FileRecordFormat.Force : 0));
        if (mode is { } m)
            n += Varint.Write(span[n..], (ulong)m);
        if (modifiedNs is { } time)
        {
            n += Varint.Write(span[n..], FileRecordFormat.ZigZag(unchecked(time - _previousTime)));
            _previousTime = time;
        }
        n += Varint.Write(span[n..], (ulong)content.Length);
        hash.CopyTo(span[n..]);
        n += FileRecordFormat.HashBytes;
        output.Advance(n);
        output.Write(content);
        _previousName = nameBytes;
        Count++;
        Length += n + content.Length;
    }
}
