using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;

namespace Ferry.Sync.Chunking;

/// <summary>
/// The identity of a chunk's content: its XXH3-128 hash. Two chunks with the same id and length are taken to be the same
/// bytes; the receiver still checks the whole assembled file against the sender's whole-file hash, so a collision can
/// cost a retry but never a silently wrong file.
/// </summary>
public readonly record struct ChunkId(UInt128 Value)
{
    /// <summary>Number of bytes of <see cref="WriteTo"/>'s big-endian form.</summary>
    public const int Size = 16;

    /// <summary>The XXH3-128 hash of <paramref name="content"/>.</summary>
    public static ChunkId Of(ReadOnlySpan<byte> content) => new(XxHash128.HashToUInt128(content));

    /// <summary>The low 64 bits: what an id shortened for the wire keeps (see <c>Delta.ChunkIdWidth.Bits64</c>).</summary>
    public ulong Low64 => (ulong)Value;

    /// <summary>Writes the id big-endian (the order XXH3's canonical form uses) into the first 16 bytes of <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination) => BinaryPrimitives.WriteUInt128BigEndian(destination, Value);

    /// <summary>Reads an id written by <see cref="WriteTo"/>.</summary>
    public static ChunkId ReadFrom(ReadOnlySpan<byte> source) => new(BinaryPrimitives.ReadUInt128BigEndian(source));

    /// <summary>32 lowercase hexadecimal digits.</summary>
    public override string ToString() => Value.ToString("x32", CultureInfo.InvariantCulture);
}
