namespace Ferry.Protocol.Errors;

/// <summary>
/// Root of every error Ferry raises on purpose. <see cref="Code"/> is stable across versions (docs/errors.md) and is
/// what programs should branch on; the message is for people and may change. Argument misuse raises the usual
/// <see cref="ArgumentException"/> family instead, and a caller's cancellation an <see cref="OperationCanceledException"/>.
/// </summary>
public class FerryException : Exception
{
    /// <summary>An error with a stable <paramref name="code"/> and a sentence for people.</summary>
    public FerryException(FerryErrorCode code, string message, Exception? inner = null)
        : base(message, inner) => Code = code;

    /// <summary>The stable code; the wire name is <c>Code.ToWire()</c>.</summary>
    public FerryErrorCode Code { get; }

    /// <summary>
    /// True when the same operation may succeed if tried again later, unchanged: the server was busy or shutting down,
    /// a limit was momentarily reached, the connection timed out or dropped. False for refusals that will repeat (bad
    /// path, missing file, failed login, a broken protocol). See <see cref="FerryErrorCodes.IsTransient"/>.
    /// </summary>
    public virtual bool IsTransient => Code.IsTransient();
}
