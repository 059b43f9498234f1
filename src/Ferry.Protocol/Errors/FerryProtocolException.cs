namespace Ferry.Protocol.Errors;

/// <summary>
/// The peer broke the wire format. <see cref="IsFatal"/> says whether frame boundaries were lost, in which
/// case the connection must close after the error frame; otherwise the next frame can still be read.
/// </summary>
public sealed class FerryProtocolException : FerryException
{
    /// <summary>A wire-format error; <paramref name="isFatal"/> when the frame boundaries were lost.</summary>
    public FerryProtocolException(FerryErrorCode code, string message, bool isFatal, Exception? inner = null)
        : base(code, message, inner) => IsFatal = isFatal;

    /// <summary>True when the connection cannot be used any more: the reader no longer knows where the next frame starts.</summary>
    public bool IsFatal { get; }

    /// <summary>
    /// For a non-fatal header error: the body length the header still declared, which the reader skips so that the
    /// next frame is found. 0 when the header was too broken to tell.
    /// </summary>
    public long DeclaredBodyLength { get; init; }
}
