namespace Ferry.Protocol.Errors;

/// <summary>The remote side answered with an error frame: its code and its message, as sent.</summary>
public sealed class FerryRemoteException : FerryException
{
    /// <summary>
    /// An error the peer reported. <paramref name="code"/> is <paramref name="wireCode"/> mapped to this version's codes
    /// (<see cref="FerryErrorCode.InternalError"/> when it is unknown here).
    /// </summary>
    public FerryRemoteException(FerryErrorCode code, string wireCode, string message)
        : base(code, message) => WireCode = wireCode;

    /// <summary>The code exactly as it arrived (a newer server may send codes this client does not know).</summary>
    public string WireCode { get; }
}
