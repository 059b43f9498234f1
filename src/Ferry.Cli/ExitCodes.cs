using System.Net.Sockets;
using Ferry.Protocol.Errors;

namespace Ferry.Cli;

/// <summary>Process exit codes, stable and documented in docs/cli.md.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>The server reported an error not covered below.</summary>
    public const int RemoteError = 1;
    /// <summary>The command line was wrong.</summary>
    public const int Usage = 2;
    /// <summary>The server could not be reached (refused, unknown host, timeout).</summary>
    public const int Unreachable = 3;
    /// <summary>The peer broke the protocol or speaks another version.</summary>
    public const int Protocol = 4;
    /// <summary>Authentication failed.</summary>
    public const int Authentication = 5;
    /// <summary>A file or directory was not found.</summary>
    public const int NotFound = 6;
    /// <summary>The target already exists (use --force).</summary>
    public const int AlreadyExists = 7;
    /// <summary>Data did not match its checksum; nothing was committed.</summary>
    public const int Integrity = 8;
    /// <summary>Quota exceeded or disk full.</summary>
    public const int NoSpace = 9;
    /// <summary>A path was refused (escapes the root, malformed), permission denied, or the server does not run commands.</summary>
    public const int PathRefused = 10;
    /// <summary>The server is busy, shutting down or already runs its maximum of commands; try again later.</summary>
    public const int Busy = 11;
    /// <summary>A local file could not be read or written.</summary>
    public const int LocalIo = 12;
    /// <summary>ferry sync --delete would remove more entries than --max-delete allows; nothing was deleted.</summary>
    public const int DeleteLimit = 13;
    /// <summary>Interrupted (Ctrl-C).</summary>
    public const int Interrupted = 130;

    /// <summary>The connection to a remote terminal was dropped on purpose with ~. (as ssh reports it).</summary>
    public const int Disconnected = 255;

    public static int For(FerryErrorCode code) => code switch
    {
        // The peer closed in the middle of a frame or before answering: a lost connection (server killed, network
        // dropped), not a peer that broke the protocol.
        FerryErrorCode.TruncatedFrame or FerryErrorCode.ConnectFailed => Unreachable,
        >= FerryErrorCode.HeaderLengthInvalid and <= FerryErrorCode.UnexpectedFrame => Protocol,
        FerryErrorCode.VersionUnsupported or FerryErrorCode.HelloRequired => Protocol,
        FerryErrorCode.ServerBusy or FerryErrorCode.ServerShuttingDown or FerryErrorCode.TooManyConnections or FerryErrorCode.ExecLimitReached => Busy,
        FerryErrorCode.TooManyUploads => Busy,
        FerryErrorCode.UdpRequestLimit => Busy,
        FerryErrorCode.AuthenticationFailed or FerryErrorCode.AuthenticationRequired or FerryErrorCode.AuthenticationThrottled
            or FerryErrorCode.ServerNotAuthenticated or FerryErrorCode.CertificateMismatch or FerryErrorCode.UserRevoked
            or FerryErrorCode.LoginTimeout => Authentication,
        FerryErrorCode.FrameMacInvalid => Protocol,
        FerryErrorCode.NotFound => NotFound,
        FerryErrorCode.AlreadyExists => AlreadyExists,
        FerryErrorCode.ChecksumMismatch => Integrity,
        FerryErrorCode.QuotaExceeded or FerryErrorCode.DiskFull => NoSpace,
        FerryErrorCode.PathInvalid or FerryErrorCode.PathEscapesRoot or FerryErrorCode.PermissionDenied or FerryErrorCode.ExecDisabled => PathRefused,
        FerryErrorCode.PathTooLong => PathRefused,
        _ => RemoteError,
    };

    /// <summary>
    /// Maps any exception a command can end with to a one-sentence message and an exit code. The message is safe to
    /// print: control characters (a server's error text may carry ESC, OSC or BEL, even before login) are escaped.
    /// </summary>
    public static (int Code, string Message) Describe(Exception ex, string server)
    {
        var (code, message) = DescribeRaw(ex, server);
        return (code, Ferry.Protocol.Text.ControlCharacters.Escape(message));
    }

    private static (int Code, string Message) DescribeRaw(Exception ex, string server) => ex switch
    {
        FerryRemoteException r => (For(r.Code), $"{r.Message} ({r.WireCode})"),
        // The cause says best what went wrong (nothing listening, an unknown host, a TLS failure).
        FerryException { Code: FerryErrorCode.ConnectFailed, InnerException: { } cause } => DescribeRaw(cause, server),
        FerryException { Code: FerryErrorCode.TruncatedFrame } lost =>
            (Unreachable, $"The connection to {server} was lost: {lost.Message} Run the command again; a transfer continues where it stopped ({lost.Code.ToWire()})."),
        FerryException f => (For(f.Code), $"{f.Message} ({f.Code.ToWire()})"),
        SocketException s when s.SocketErrorCode == SocketError.ConnectionRefused =>
            (Unreachable, $"Nothing is listening at {server}: is the server running? Start it with 'ferry serve', or check --server."),
        SocketException s when s.SocketErrorCode is SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain =>
            (Unreachable, $"The host in {server} could not be resolved; check --server."),
        SocketException s => (Unreachable, $"The connection to {server} failed: {s.Message}."),
        TimeoutException t => (Unreachable, t.Message + " Check that the server is running and reachable."),
        IOException io when io.InnerException is SocketException => (Unreachable, $"The connection to {server} broke ({io.Message}); run the command again."),
        System.Security.Authentication.AuthenticationException tls =>
            (Authentication, $"The TLS handshake with {server} failed ({tls.Message}); if the server runs with --plain or --insecure-no-auth, add --plain."),
        InvalidOperationException io2 when io2.Message.StartsWith("FERRY_", StringComparison.Ordinal) => (Usage, io2.Message),
        InvalidDataException data => (LocalIo, data.Message),
        OperationCanceledException => (Interrupted, "Interrupted."),
        IOException full when IsLocalDiskFull(full) => (NoSpace, $"The local disk is full: {full.Message}"),
        IOException io => (LocalIo, io.Message),
        UnauthorizedAccessException ua => (LocalIo, ua.Message),
        _ => (RemoteError, ex.Message),
    };

    /// <summary>ENOSPC or EDQUOT (Linux numbers, as .NET reports them in HResult), or Windows' ERROR_DISK_FULL.</summary>
    private static bool IsLocalDiskFull(IOException ex) => ex.HResult is 28 or 122 or unchecked((int)0x80070070);

    /// <summary>
    /// The stable error code of a failure, as <c>--json</c> reports it: the wire name when the failure carries one
    /// (docs/errors.md), otherwise the name of its exit code in snake_case (<c>unreachable</c>, <c>usage</c>, <c>local_io</c>, ...).
    /// </summary>
    public static string ErrorCode(Exception ex) => ex switch
    {
        FerryRemoteException r => r.WireCode,
        // The command line reported these as "unreachable" (or "authentication" for TLS) before the library had a code
        // for them: scripts keep seeing what they saw.
        FerryException { Code: FerryErrorCode.ConnectFailed, InnerException: { } cause } => ErrorCode(cause),
        FerryException f => f.Code.ToWire(),
        _ => ErrorCode(Describe(ex, "").Code),
    };

    /// <summary>The name of an exit code in snake_case, the error code of failures that carry no wire name.</summary>
    public static string ErrorCode(int exitCode) => exitCode switch
    {
        Usage => "usage",
        Unreachable => "unreachable",
        Protocol => "protocol",
        Authentication => "authentication",
        NotFound => "not_found",
        AlreadyExists => "already_exists",
        Integrity => "integrity",
        NoSpace => "no_space",
        PathRefused => "path_refused",
        Busy => "busy",
        LocalIo => "local_io",
        DeleteLimit => "delete_limit",
        Interrupted => "interrupted",
        Disconnected => "disconnected",
        _ => "remote_error",
    };
}
