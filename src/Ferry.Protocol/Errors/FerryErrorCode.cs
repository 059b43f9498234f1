namespace Ferry.Protocol.Errors;

/// <summary>
/// Stable error codes. The wire carries the snake_case name (see <see cref="FerryErrorCodes.ToWire"/>);
/// names never change once shipped, new codes are only appended. docs/errors.md lists each one.
/// </summary>
public enum FerryErrorCode
{
    /// <summary>An error the server did not anticipate; the message says more.</summary>
    InternalError = 1,

    // Framing (docs/protocol.md §2). The fatal ones close the connection after the error frame.
    /// <summary>The 4-byte header length was 0. Fatal.</summary>
    HeaderLengthInvalid = 100,
    /// <summary>The 4-byte header length exceeded the configured maximum. Fatal.</summary>
    HeaderTooLarge = 101,
    /// <summary>The header bytes were not valid UTF-8.</summary>
    HeaderNotUtf8 = 102,
    /// <summary>The header was not valid JSON (or nested too deeply).</summary>
    HeaderNotJson = 103,
    /// <summary>The header was valid JSON but not an object.</summary>
    HeaderNotObject = 104,
    /// <summary>The header had no string field <c>cmd</c>.</summary>
    CommandMissing = 105,
    /// <summary>The header named a command this server does not serve.</summary>
    CommandUnknown = 106,
    /// <summary>A header field was missing, of the wrong JSON type or out of range.</summary>
    FieldInvalid = 107,
    /// <summary>The declared body size was not a non-negative 64-bit integer. Fatal.</summary>
    BodySizeInvalid = 108,
    /// <summary>The declared body size exceeded what the command accepts. Fatal.</summary>
    BodyTooLarge = 109,
    /// <summary>The peer closed the connection in the middle of a frame.</summary>
    TruncatedFrame = 110,
    /// <summary>A frame header did not arrive completely within the header timeout. Fatal.</summary>
    HeaderTimeout = 111,
    /// <summary>No frame started within the idle timeout. Fatal.</summary>
    IdleTimeout = 112,
    /// <summary>A frame arrived that is not valid at this point of the conversation.</summary>
    UnexpectedFrame = 113,

    // Session.
    /// <summary>The server is at its connection limit. Fatal.</summary>
    ServerBusy = 200,
    /// <summary>The peer speaks a protocol version this side does not.</summary>
    VersionUnsupported = 201,
    /// <summary>The server is shutting down. Fatal.</summary>
    ServerShuttingDown = 202,
    /// <summary>The command needs a hello frame first.</summary>
    HelloRequired = 203,
    /// <summary>Authentication failed: unknown user or wrong key (deliberately not told apart). Fatal.</summary>
    AuthenticationFailed = 204,
    /// <summary>The command needs a completed authentication first.</summary>
    AuthenticationRequired = 205,
    /// <summary>Too many failed authentications from this address; wait and try again. Fatal.</summary>
    AuthenticationThrottled = 206,
    /// <summary>The server could not prove that it knows the key: it may be an impostor. Raised by clients.</summary>
    ServerNotAuthenticated = 207,
    /// <summary>The server's certificate does not match the one pinned for it. Raised by clients.</summary>
    CertificateMismatch = 208,
    /// <summary>A frame's MAC did not verify: the connection was tampered with. Fatal.</summary>
    FrameMacInvalid = 209,
    /// <summary>The user already has the maximum number of connections. Fatal.</summary>
    TooManyConnections = 210,
    /// <summary>The logged-in user was removed, or their key replaced, since login: the session ends. Fatal.</summary>
    UserRevoked = 211,
    /// <summary>The connection did not complete its login (or, without authentication, its first command) in time. Fatal.</summary>
    LoginTimeout = 212,

    // Files (docs/protocol.md §5).
    /// <summary>The path is malformed: empty, absolute, control characters, over-long, backslashes.</summary>
    PathInvalid = 300,
    /// <summary>The path would resolve outside the root.</summary>
    PathEscapesRoot = 301,
    /// <summary>No such file or directory.</summary>
    NotFound = 302,
    /// <summary>The target exists and the request did not ask to replace it.</summary>
    AlreadyExists = 303,
    /// <summary>A directory was found where a file was needed.</summary>
    IsADirectory = 304,
    /// <summary>A file was found where a directory was needed.</summary>
    NotADirectory = 305,
    /// <summary>The directory is not empty and the request was not recursive.</summary>
    DirectoryNotEmpty = 306,
    /// <summary>The data received does not match the checksum the sender declared. Nothing was committed.</summary>
    ChecksumMismatch = 307,
    /// <summary>The checksum algorithm named is not supported.</summary>
    ChecksumUnsupported = 308,
    /// <summary>The upload would exceed the byte quota. Nothing was written.</summary>
    QuotaExceeded = 309,
    /// <summary>The server's disk is full. Nothing was committed.</summary>
    DiskFull = 310,
    /// <summary>The server's file system refused the operation.</summary>
    IoError = 311,
    /// <summary>A resume was asked for but the partial upload does not exist or no longer matches.</summary>
    ResumeInvalid = 312,
    /// <summary>The user lacks the permission the command needs.</summary>
    PermissionDenied = 313,
    /// <summary>Another upload to the same path is in progress.</summary>
    TransferInProgress = 314,
    /// <summary>The put_data or put_end names an upload id that is not open on this connection.</summary>
    UnknownTransfer = 315,
    /// <summary>The user, or the whole server, already has the maximum number of uploads open; end some and try again.</summary>
    TooManyUploads = 316,
    /// <summary>The path has more levels, or more bytes once placed under the user's root, than the server accepts.</summary>
    PathTooLong = 317,
    /// <summary>The file is larger than the command sends in one record (get_files); fetch it with get.</summary>
    FileTooLarge = 318,
    /// <summary>The file changed while the server read it to send it in one record (get_files); fetch it again.</summary>
    FileChanged = 319,

    // Remote execution (docs/protocol.md §6).
    /// <summary>The server does not run commands (start it with --allow-exec).</summary>
    ExecDisabled = 400,
    /// <summary>The server already runs its maximum number of commands; try again shortly.</summary>
    ExecLimitReached = 401,
    /// <summary>The command could not be started (no such program, not executable).</summary>
    ExecFailed = 402,
    /// <summary>A UDP command ran, but its output could not be kept for retransmission: it exceeds the per-user or global result budget, or was dropped to make room for a newer result.</summary>
    ResultBudgetExceeded = 410,
    /// <summary>A UDP request was not run: the user, or all users together, already have the maximum number of UDP requests remembered by the server.</summary>
    UdpRequestLimit = 411,

    // Client side: never sent by a server.
    /// <summary>
    /// The client could not open the connection: nothing listening, an unknown host, a network error, a TLS handshake
    /// that failed, or no hello within the connect timeout. The inner exception is the cause.
    /// </summary>
    ConnectFailed = 500,
}
