namespace Ferry.Protocol.Errors;

/// <summary>Root of every error Ferry raises on purpose; carries a stable <see cref="FerryErrorCode"/>.</summary>
public class FerryException : Exception
{
    public FerryException(FerryErrorCode code, string message, Exception? inner = null)
        : base(message, inner) => Code = code;

    /// <summary>The stable code; the wire name is <c>Code.ToWire()</c>.</summary>
    public FerryErrorCode Code { get; }
}

/// <summary>
/// The peer broke the wire format. <see cref="IsFatal"/> says whether frame boundaries were lost, in which
/// case the connection must close after the error frame; otherwise the next frame can still be read.
/// </summary>
public sealed class FerryProtocolException : FerryException
{
    public FerryProtocolException(FerryErrorCode code, string message, bool isFatal, Exception? inner = null)
        : base(code, message, inner) => IsFatal = isFatal;

    public bool IsFatal { get; }

    /// <summary>
    /// For a non-fatal header error: the body length the header still declared, which the reader skips so that the
    /// next frame is found. 0 when the header was too broken to tell.
    /// </summary>
    public long DeclaredBodyLength { get; init; }
}

/// <summary>The remote side answered with an error frame.</summary>
public sealed class FerryRemoteException : FerryException
{
    public FerryRemoteException(FerryErrorCode code, string wireCode, string message)
        : base(code, message) => WireCode = wireCode;

    /// <summary>The code exactly as it arrived (a newer server may send codes this client does not know).</summary>
    public string WireCode { get; }
}
