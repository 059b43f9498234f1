using System.Text;
using System.Text.Json;
using Ferry.Protocol.Auth;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Handlers;

namespace Ferry.Fuzz;

/// <summary>
/// The input is one frame header's JSON, as the handshake receives it. It goes through
/// <see cref="FrameDecoder.ParseHeader"/> and then, whatever its <c>cmd</c>, through the typed deserialization of
/// <c>hello</c>, <c>auth</c>, <c>auth_ok</c> and <c>error</c> (<see cref="FerryJsonContext"/>), then through the checks
/// each side makes on them (docs/security.md §3), the server's own <see cref="AuthHandler.IsWellFormed"/> among them.
/// Expected: <see cref="FerryProtocolException"/> from parsing, and <c>field_invalid</c> from deserialization.
/// Invariants: the checks never throw, whatever field is missing, null or of the wrong type; a user name the server
/// accepts fits the transcript; a null proof or one of the wrong length never verifies; a message serializes and reads
/// back to the same fields.
/// </summary>
internal static class HandshakeTarget
{
    private static readonly byte[] s_key = Enumerable.Range(1, Handshake.KeyBytes).Select(i => (byte)i).ToArray();
    private static readonly byte[] s_serverChallenge = Enumerable.Range(100, Handshake.ChallengeBytes).Select(i => (byte)i).ToArray();
    private static readonly byte[] s_channelBinding = Handshake.CertificateBinding("certificate"u8);

    public static void Run(byte[] input)
    {
        FrameHeader header;
        try
        {
            header = FrameDecoder.ParseHeader(input, FrameLimits.Default);
        }
        catch (FerryProtocolException)
        {
            return;
        }

        if (TryDeserialize(header, FerryJsonContext.Default.HelloMessage) is { } hello)
            CheckHello(hello);
        if (TryDeserialize(header, FerryJsonContext.Default.AuthMessage) is { } auth)
            CheckAuth(auth);
        if (TryDeserialize(header, FerryJsonContext.Default.AuthOkMessage) is { } authOk)
            CheckAuthOk(authOk);
        if (TryDeserialize(header, FerryJsonContext.Default.ErrorMessage) is { } error)
            CheckError(error);
    }

    private static T? TryDeserialize<T>(FrameHeader header, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo) where T : class
    {
        try
        {
            return header.Deserialize(typeInfo);
        }
        catch (FerryProtocolException ex) when (ex.Code == FerryErrorCode.FieldInvalid && !ex.IsFatal)
        {
            return null;
        }
    }

    /// <summary>What the server's hello handler and the client's login read from a hello.</summary>
    private static void CheckHello(HelloMessage hello)
    {
        var features = (hello.Features ?? []).ToHashSet(StringComparer.Ordinal);
        _ = features.Contains("auth");
        if (hello.Auth == Handshake.Method && hello.Challenge is { Length: Handshake.ChallengeBytes } challenge)
            _ = Handshake.Transcript(ProtocolVersion.Current, challenge, s_serverChallenge, "alice", []);

        var again = RoundTrip(hello, FerryJsonContext.Default.HelloMessage);
        Invariant.That(again.Version == hello.Version && again.Agent == hello.Agent && again.Auth == hello.Auth
            && SameBytes(again.Challenge, hello.Challenge) && (again.Features ?? []).SequenceEqual(hello.Features ?? []),
            "hello does not read back as written");
    }

    /// <summary>
    /// The server's check of the client's answer: <see cref="AuthHandler.IsWellFormed"/> first (it must cope with any
    /// field being null, as the JSON allows), then the transcript and the proof, which must not throw for a well-formed
    /// answer.
    /// </summary>
    private static void CheckAuth(AuthMessage auth)
    {
        if (!AuthHandler.IsWellFormed(auth))
            return;
        Invariant.That(auth.Challenge is { Length: Handshake.ChallengeBytes } && auth.Proof is { Length: Handshake.ProofBytes },
            "a well-formed answer has a challenge and a proof of the right length");
        Invariant.That(Encoding.UTF8.GetByteCount(auth.User) <= Handshake.MaxUserBytes, "a valid user name does not fit the transcript");

        var transcript = Handshake.Transcript(ProtocolVersion.Current, s_serverChallenge, auth.Challenge, auth.User, s_channelBinding);
        var expected = Handshake.ClientProof(s_key, transcript);
        Invariant.That(Handshake.Verify(expected, auth.Proof) == expected.AsSpan().SequenceEqual(auth.Proof), "Verify disagrees with a plain comparison");

        var again = RoundTrip(auth, FerryJsonContext.Default.AuthMessage);
        Invariant.That(again.User == auth.User && SameBytes(again.Challenge, auth.Challenge) && SameBytes(again.Proof, auth.Proof),
            "auth does not read back as written");
    }

    /// <summary>The client's check of the server's answer: only the expected proof verifies; a null or short one never does.</summary>
    private static void CheckAuthOk(AuthOkMessage ok)
    {
        var transcript = Handshake.Transcript(ProtocolVersion.Current, s_serverChallenge, s_serverChallenge.Reverse().ToArray(), "alice", []);
        var expected = Handshake.ServerProof(s_key, transcript);
        var verified = Handshake.Verify(expected, ok.Proof);
        Invariant.That(verified == expected.AsSpan().SequenceEqual(ok.Proof), "Verify disagrees with a plain comparison");
        if (ok.Proof is not { Length: Handshake.ProofBytes })
            Invariant.That(!verified, "a null proof or one of the wrong length verified");
    }

    /// <summary>The client turns an error frame into an exception with a known code, or internal_error for any other (or none).</summary>
    private static void CheckError(ErrorMessage error)
    {
        var code = FerryErrorCodes.FromWire(error.Code);
        if (code != FerryErrorCode.InternalError)
            Invariant.That(code.ToWire() == error.Code, $"error code '{error.Code}' does not map back to itself");
    }

    private static T RoundTrip<T>(T message, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(message, typeInfo);
        var header = FrameDecoder.ParseHeader(json, FrameLimits.Default);
        return header.Deserialize(typeInfo);
    }

    private static bool SameBytes(byte[]? a, byte[]? b) => a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);
}
