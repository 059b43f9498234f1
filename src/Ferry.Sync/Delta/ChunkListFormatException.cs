using Ferry.Protocol.Errors;

namespace Ferry.Sync.Delta;

/// <summary>
/// An encoded chunk list broke the format or a limit. Carries <see cref="FerryErrorCode.FieldInvalid"/> so that a
/// handler that lets it through answers with a stable code; <see cref="Reason"/> says which rule was broken.
/// </summary>
public sealed class ChunkListFormatException : FerryException
{
    /// <summary>Creates the error for <paramref name="reason"/>, with a message that names the offending value.</summary>
    public ChunkListFormatException(ChunkListFormatError reason, string message)
        : base(FerryErrorCode.FieldInvalid, $"Invalid chunk list: {message}") => Reason = reason;

    /// <summary>Which rule of the format the input broke.</summary>
    public ChunkListFormatError Reason { get; }
}
