namespace Ferry.Server.Auth;

/// <summary>
/// A second place audit records go besides the file (the NATS store's audit stream). <see cref="Write"/> is called on
/// the path of a login or command, so it must return at once and never throw: a sink that cannot keep up drops and counts.
/// </summary>
public interface IAuditSink
{
    /// <param name="record">One audit record, a JSON object on one line (the same text the audit file gets).</param>
    void Write(string record);
}
