using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Ferry.Protocol.Auth;

/// <summary>
/// The authentication handshake's cryptography (docs/security.md §3), as pure functions shared by both sides.
/// Algorithms are fixed by the protocol version: HMAC-SHA256 over a canonical transcript, HKDF-SHA256 for session keys.
/// </summary>
internal static class Handshake
{
    /// <summary>Bytes in each side's challenge.</summary>
    public const int ChallengeBytes = 32;

    /// <summary>Bytes in a user key.</summary>
    public const int KeyBytes = 32;

    /// <summary>Bytes in a proof (HMAC-SHA256).</summary>
    public const int ProofBytes = 32;

    /// <summary>Longest user name, in UTF-8 bytes.</summary>
    public const int MaxUserBytes = 64;

    /// <summary>The wire name of the only authentication method of protocol version 1.</summary>
    public const string Method = "hmac-sha256";

    private static readonly byte[] s_transcriptLabel = "ferry-auth-v1"u8.ToArray();
    private static readonly byte[] s_clientLabel = "ferry client proof"u8.ToArray();
    private static readonly byte[] s_serverLabel = "ferry server proof"u8.ToArray();
    private static readonly byte[] s_sessionLabel = "ferry session keys"u8.ToArray();

    /// <summary>A fresh random challenge.</summary>
    public static byte[] NewChallenge() => RandomNumberGenerator.GetBytes(ChallengeBytes);

    /// <summary>A fresh random user key.</summary>
    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(KeyBytes);

    /// <summary>
    /// The transcript both proofs cover:
    /// <c>"ferry-auth-v1" | u32 version | server challenge (32) | client challenge (32) | u16 n | user (n, UTF-8) | u16 m | channel binding (m)</c>,
    /// integers big-endian. The channel binding is the SHA-256 of the server's TLS certificate (RFC 5929
    /// tls-server-end-point), or empty on plain TCP.
    /// </summary>
    public static byte[] Transcript(int version, ReadOnlySpan<byte> serverChallenge, ReadOnlySpan<byte> clientChallenge, string user, ReadOnlySpan<byte> channelBinding)
    {
        if (serverChallenge.Length != ChallengeBytes || clientChallenge.Length != ChallengeBytes)
            throw new ArgumentException($"Challenges are {ChallengeBytes} bytes.");
        var userBytes = Encoding.UTF8.GetBytes(user);
        if (userBytes.Length > MaxUserBytes)
            throw new ArgumentException("User name too long.", nameof(user));
        var buffer = new byte[s_transcriptLabel.Length + 4 + 2 * ChallengeBytes + 2 + userBytes.Length + 2 + channelBinding.Length];
        var span = buffer.AsSpan();
        s_transcriptLabel.CopyTo(span);
        span = span[s_transcriptLabel.Length..];
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)version);
        span = span[4..];
        serverChallenge.CopyTo(span);
        span = span[ChallengeBytes..];
        clientChallenge.CopyTo(span);
        span = span[ChallengeBytes..];
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)userBytes.Length);
        span = span[2..];
        userBytes.CopyTo(span);
        span = span[userBytes.Length..];
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)channelBinding.Length);
        channelBinding.CopyTo(span[2..]);
        return buffer;
    }

    /// <summary>The client's proof: HMAC-SHA256(key, "ferry client proof" | transcript).</summary>
    public static byte[] ClientProof(ReadOnlySpan<byte> key, ReadOnlySpan<byte> transcript) => Prove(key, s_clientLabel, transcript);

    /// <summary>The server's proof: HMAC-SHA256(key, "ferry server proof" | transcript).</summary>
    public static byte[] ServerProof(ReadOnlySpan<byte> key, ReadOnlySpan<byte> transcript) => Prove(key, s_serverLabel, transcript);

    /// <summary>Constant-time comparison of a received proof with the expected one.</summary>
    public static bool Verify(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> received) =>
        received.Length == expected.Length && CryptographicOperations.FixedTimeEquals(expected, received);

    /// <summary>
    /// Per-direction keys for authenticating frames on plain TCP: HKDF-SHA256 with the user key as input, the
    /// transcript as salt, and "ferry session keys" as info; 64 bytes, the first 32 for client→server frames.
    /// </summary>
    public static (byte[] ClientToServer, byte[] ServerToClient) SessionKeys(ReadOnlySpan<byte> key, ReadOnlySpan<byte> transcript)
    {
        var okm = HKDF.DeriveKey(HashAlgorithmName.SHA256, key.ToArray(), 64, transcript.ToArray(), s_sessionLabel);
        return (okm[..32], okm[32..]);
    }

    /// <summary>The channel binding for a server certificate: SHA-256 of its DER encoding.</summary>
    public static byte[] CertificateBinding(ReadOnlySpan<byte> certificateDer) => SHA256.HashData(certificateDer);

    private static byte[] Prove(ReadOnlySpan<byte> key, ReadOnlySpan<byte> label, ReadOnlySpan<byte> transcript)
    {
        Span<byte> input = new byte[label.Length + transcript.Length];
        label.CopyTo(input);
        transcript.CopyTo(input[label.Length..]);
        return HMACSHA256.HashData(key, input);
    }
}
