using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Ferry.Protocol.Framing;

/// <summary>
/// Authenticates the frames of one direction on plain TCP after login (docs/security.md §4): each frame is followed
/// by a 32-byte trailer, HMAC-SHA256(direction key, u64 sequence | 4-byte prefix | header | body). The sequence number
/// starts at 0 and counts frames, so a frame cannot be dropped, replayed or reordered unnoticed.
/// </summary>
internal sealed class FrameMac : IDisposable
{
    /// <summary>Bytes in the trailer.</summary>
    public const int TrailerBytes = 32;

    private readonly IncrementalHash _hmac;
    private ulong _sequence;

    public FrameMac(byte[] key) => _hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);

    /// <summary>Starts a frame: its sequence number and 4-byte length prefix.</summary>
    public void Begin(int headerLength)
    {
        Span<byte> start = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64BigEndian(start, _sequence++);
        BinaryPrimitives.WriteInt32LittleEndian(start[8..], headerLength);
        _hmac.AppendData(start);
    }

    public void Append(ReadOnlySpan<byte> data) => _hmac.AppendData(data);

    /// <summary>Writes the frame's trailer into <paramref name="destination"/> and gets ready for the next frame.</summary>
    public void Finish(Span<byte> destination) => _hmac.GetHashAndReset(destination);

    public void Dispose() => _hmac.Dispose();
}
