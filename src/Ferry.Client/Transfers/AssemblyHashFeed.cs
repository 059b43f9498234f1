using Ferry.Protocol.Files;
using Ferry.Sync.Delta;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Client.Transfers;

/// <summary>
/// What a <see cref="FileSink"/> writes from <paramref name="position"/> on, fed to a file's <see cref="AssemblyHash"/>
/// at its offsets (a delta pull hashes the file it assembles as it writes it, §5.9.2). The sink hands over each buffer
/// before writing it and does not change it until the write ended, so the bytes hashed are the bytes written.
/// </summary>
internal sealed class AssemblyHashFeed(AssemblyHash hash, long position, SafeFileHandle file) : ChecksumAlgorithm.Hasher
{
    public override void Append(ReadOnlySpan<byte> data)
    {
        hash.Written(data, position, (offset, buffer) => RandomAccess.Read(file, buffer.Span, offset));
        position += data.Length;
    }

    /// <summary>The whole file's hash is the <see cref="AssemblyHash"/>'s to give.</summary>
    public override byte[] GetHashAndReset() => throw new NotSupportedException("An assembly hash feed has no hash of its own.");
}
