using System.Net;
using Ferry.Protocol.Framing;

namespace Ferry.Server.Hosting;

/// <summary>Server settings. Every value has a documented default; <see cref="Validate"/> names the setting at fault.</summary>
public sealed record FerryServerOptions
{
    /// <summary>Default TCP port when none is given.</summary>
    public const int DefaultPort = 7447;

    /// <summary>Addresses to listen on; several allowed (IPv4 and IPv6). Default 127.0.0.1:7447. Port 0 picks a free port.</summary>
    public IReadOnlyList<IPEndPoint> Listen { get; init; } = [new IPEndPoint(IPAddress.Loopback, DefaultPort)];

    /// <summary>Folder that holds the served files. Default <c>./ferry-data</c>, created on start.</summary>
    public string Root { get; init; } = "ferry-data";

    /// <summary>Connections served at once; the next one gets a <c>server_busy</c> error frame and is closed. Default 1000.</summary>
    public int MaxConnections { get; init; } = 1000;

    /// <summary>Time from a frame's first byte to its complete header (defeats slow-loris peers). Default 10 s.</summary>
    public TimeSpan HeaderTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time a connection may wait for a frame, or for the next piece of a body. Default 5 min.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>On shutdown, how long work in flight may take to finish before connections are aborted. Default 10 s. Commands on terminals are not waited for: they are hung up at once (SIGHUP, SIGKILL 2 s later).</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Frame bounds (header size 64 KiB by default).</summary>
    public FrameLimits Frames { get; init; } = FrameLimits.Default;

    /// <summary>Byte quota for the files under the root; null (the default) means unlimited.</summary>
    public long? QuotaBytes { get; init; }

    /// <summary>How long an unfinished upload is kept for resume before it is deleted. Default 24 h.</summary>
    public TimeSpan PartialUploadTtl { get; init; } = TimeSpan.FromHours(24);

    /// <summary>
    /// Uploads open at once across the server; each holds a file descriptor, and the next put gets <c>too_many_uploads</c>.
    /// Default: a quarter of the process's open-file limit (RLIMIT_NOFILE) at start, from 64 to 65536.
    /// </summary>
    public int MaxOpenUploads { get; init; } = Storage.OpenFileLimit.DefaultMaxOpenUploads;

    /// <summary>
    /// Uploads one user may have open at once over all of that user's connections (the whole server without login);
    /// the next put gets <c>too_many_uploads</c>. Default: an eighth of the default <see cref="MaxOpenUploads"/>, from 16 to 1024.
    /// </summary>
    public int MaxOpenUploadsPerUser { get; init; } = Storage.OpenFileLimit.DefaultMaxOpenUploadsPerUser;

    /// <summary>Run commands for users with the exec permission. Default false.</summary>
    public bool AllowExec { get; init; }

    /// <summary>Longest a command may run before its process tree is killed. Default 1 h.</summary>
    public TimeSpan ExecTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Output (stdout and stderr together) forwarded per command; the rest is cut with a marker. Default 1 GiB.</summary>
    public long MaxExecOutputBytes { get; init; } = 1L << 30;

    /// <summary>Commands running at once across the server. Default 16.</summary>
    public int MaxConcurrentExec { get; init; } = 16;

    /// <summary>
    /// Run commands as the server's own account with everything it can see (no sandbox, no account change). Default
    /// false: every command runs in a bubblewrap sandbox (docs/security.md, "Remote commands"), and a server that cannot
    /// set one up refuses to start with <see cref="AllowExec"/>. When true the server warns at start and on every command.
    /// </summary>
    public bool ExecUnconfined { get; init; }

    /// <summary>The bubblewrap program: a path, or a name looked up in /usr/local/bin, /usr/bin and /bin. Default "bwrap".</summary>
    public string ExecSandboxProgram { get; init; } = "bwrap";

    /// <summary>
    /// The OS account commands run as when the server runs as root and the user has no <c>os_user</c> of their own.
    /// Default "ferry-exec" (create it with <c>useradd --system --no-create-home --shell /usr/sbin/nologin ferry-exec</c>).
    /// </summary>
    public string ExecUser { get; init; } = "ferry-exec";

    /// <summary>Resource limits of every confined command. Default <see cref="ExecLimits.Default"/>.</summary>
    public ExecLimits ExecLimits { get; init; } = ExecLimits.Default;

    /// <summary>
    /// Permissions of the files the server creates for users (uploads), whatever the umask; folders (homes, mkdir) get
    /// the same plus search where read is given. Default 0600 (folders 0700): nobody but the owner reads users' data.
    /// </summary>
    public UnixFileMode DataFileMode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The folder permissions that go with <see cref="DataFileMode"/>: each read bit brings its search bit.</summary>
    public UnixFileMode DataDirectoryMode => DataFileMode
        | (DataFileMode.HasFlag(UnixFileMode.UserRead) ? UnixFileMode.UserExecute : 0)
        | (DataFileMode.HasFlag(UnixFileMode.GroupRead) ? UnixFileMode.GroupExecute : 0)
        | (DataFileMode.HasFlag(UnixFileMode.OtherRead) ? UnixFileMode.OtherExecute : 0);

    /// <summary>Address for UDP remote execution (docs/protocol.md §7); null (the default) means no UDP.</summary>
    public IPEndPoint? UdpListen { get; init; }

    /// <summary>How far a datagram's timestamp may be from the server's clock before it is dropped as stale. Default 30 s.</summary>
    public TimeSpan UdpReplayWindow { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a UDP result is kept for retransmission. Default 2 min (at least twice the replay window).</summary>
    public TimeSpan UdpResultRetention { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Output kept per UDP command (stdout and stderr together); the rest is cut with a marker. Default 16 MiB.</summary>
    public long MaxUdpOutputBytes { get; init; } = 16L * 1024 * 1024;

    /// <summary>
    /// UDP results kept for retransmission per user, in bytes; a newer result evicts the user's oldest ones, and a result
    /// larger than this is refused (result_budget_exceeded). Default 64 MiB.
    /// </summary>
    public long MaxUdpResultBytesPerUser { get; init; } = 64L * 1024 * 1024;

    /// <summary>UDP results kept for retransmission across all users, in bytes; a result that does not fit is refused. Default 256 MiB.</summary>
    public long MaxUdpResultBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>The least a UDP result budget may be: a result's head and cut marker take up to 1 KiB, and output needs room too.</summary>
    public const long MinUdpResultBytes = 4096;

    /// <summary>
    /// UDP requests remembered per user (running, waiting to be fetched, or finished and not yet swept). At the cap a new
    /// request evicts the user's oldest finished one, or is refused (udp_request_limit) when all are running or waiting.
    /// Default 1024.
    /// </summary>
    public int MaxUdpRequestsPerUser { get; init; } = 1024;

    /// <summary>UDP requests remembered across all users; a new request beyond this is refused (udp_request_limit). Default 16384.</summary>
    public int MaxUdpRequests { get; init; } = 16384;

    /// <summary>Largest echo body, in bytes. Default 64 MiB.</summary>
    public long MaxEchoBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// Accept classic clients that send no hello. Only meaningful without authentication: <c>ferry serve
    /// --insecure-no-auth</c> sets this, turns authentication off and uses plain TCP, with a loud warning at start.
    /// Default false.
    /// </summary>
    public bool InsecureNoAuth { get; init; }

    /// <summary>Require the HMAC challenge-response login (docs/security.md). Default true.</summary>
    public bool RequireAuthentication { get; init; } = true;

    /// <summary>Serve over TLS. Default true; false means plain TCP (frames then carry MACs after login).</summary>
    public bool UseTls { get; init; } = true;

    /// <summary>Folder for the server's own state: its TLS certificate and, by default, the users file. Default ./ferry-server.</summary>
    public string StateDirectory { get; init; } = "ferry-server";

    /// <summary>The users file; default users.json in <see cref="StateDirectory"/>.</summary>
    public string? UsersFile { get; init; }

    /// <summary>
    /// How often the users file is checked for changes, which are then loaded without a restart (SIGHUP loads it at
    /// once). Default 2 s; <see cref="TimeSpan.Zero"/> turns the check off.
    /// </summary>
    public TimeSpan UsersFileCheckInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A PKCS#12 file with the TLS certificate and its key, instead of the self-signed one kept in
    /// <see cref="StateDirectory"/>. Default none.
    /// </summary>
    public string? TlsCertificatePath { get; init; }

    /// <summary>Password of <see cref="TlsCertificatePath"/>, if it has one.</summary>
    public string? TlsCertificatePassword { get; init; }

    /// <summary>Time a failed login waits before its answer, the same for an unknown user and a wrong key. Default 1 s.</summary>
    public TimeSpan AuthFailureDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Failed logins from one address within <see cref="AuthFailureWindow"/> before it is refused outright. Default 5.</summary>
    public int MaxAuthFailures { get; init; } = 5;

    /// <summary>Window for <see cref="MaxAuthFailures"/>. Default 1 min.</summary>
    public TimeSpan AuthFailureWindow { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Connections one user may have open at once. Default 32.</summary>
    public int MaxConnectionsPerUser { get; init; } = 32;

    /// <summary>
    /// Connections one client network (IPv4 address, IPv6 /64) may have open at once. When they are all taken, an idle
    /// one that has not logged in is shed for the newcomer; only logged-in ones make it refuse. Default 256.
    /// </summary>
    public int MaxConnectionsPerAddress { get; init; } = 256;

    /// <summary>
    /// Failed logins across the whole server within <see cref="AuthFailureWindow"/> after which every network that failed
    /// at all in the window is refused too (networks with a clean record still get their logins checked). Default 100.
    /// </summary>
    public int MaxAuthFailuresTotal { get; init; } = 100;

    /// <summary>Networks (IPv4 addresses, IPv6 /64s) the login throttle remembers at most; the one that failed longest ago goes first. Default 10000.</summary>
    public int MaxAuthThrottleNetworks { get; init; } = 10_000;

    /// <summary>
    /// Time from accepting a connection to its successful login, after which it gets <c>login_timeout</c> and is
    /// closed (sshd's LoginGraceTime). On a server without logins (<see cref="InsecureNoAuth"/>), time to complete a
    /// first command other than hello. Default 20 s.
    /// </summary>
    public TimeSpan LoginGraceTime { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Connections that have not logged in yet (TLS handshake included) held at once; the next one sheds the idlest
    /// of them (sshd's MaxStartups) once it has been idle for <see cref="MinIdleBeforeShed"/>. Default 256.
    /// </summary>
    public int MaxUnauthenticatedConnections { get; init; } = 256;

    /// <summary>Connections that have not logged in yet held at once per client network (IPv4 address, IPv6 /64). Default 128.</summary>
    public int MaxUnauthenticatedConnectionsPerAddress { get; init; } = 128;

    /// <summary>
    /// How long a connection that has not logged in must have sat without progress before a newcomer may shed it:
    /// clients in the middle of logging in are never shed, however many arrive at once. Default 1 s.
    /// </summary>
    public TimeSpan MinIdleBeforeShed { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>TLS handshakes in progress at once; others wait for a turn (within their login grace time). Default 64.</summary>
    public int MaxConcurrentTlsHandshakes { get; init; } = 64;

    /// <summary>Longest a TLS handshake may take once it has its turn. Default 10 s.</summary>
    public TimeSpan TlsHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Optional file that receives the audit log as JSON lines (logins, failures, commands). Default none.</summary>
    public string? AuditLogPath { get; init; }

    /// <summary>The users file actually used.</summary>
    public string EffectiveUsersFile => UsersFile ?? Path.Combine(StateDirectory, "users.json");

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad setting.</summary>
    public void Validate()
    {
        if (Listen.Count == 0)
            throw new ArgumentException("At least one listen address is required.", nameof(Listen));
        if (string.IsNullOrWhiteSpace(Root))
            throw new ArgumentException("Root must name a folder.", nameof(Root));
        if (MaxConnections < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxConnections), MaxConnections, "MaxConnections must be at least 1.");
        RequirePositive(HeaderTimeout, nameof(HeaderTimeout));
        RequirePositive(IdleTimeout, nameof(IdleTimeout));
        if (ShutdownGrace < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ShutdownGrace), ShutdownGrace, "ShutdownGrace must not be negative.");
        if (MaxEchoBytes < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxEchoBytes), MaxEchoBytes, "MaxEchoBytes must not be negative.");
        if (MaxConnectionsPerUser < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxConnectionsPerUser), MaxConnectionsPerUser, "MaxConnectionsPerUser must be at least 1.");
        if (MaxConnectionsPerAddress < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxConnectionsPerAddress), MaxConnectionsPerAddress, "MaxConnectionsPerAddress must be at least 1.");
        if (MaxAuthFailures < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxAuthFailures), MaxAuthFailures, "MaxAuthFailures must be at least 1.");
        if (AuthFailureDelay < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(AuthFailureDelay), AuthFailureDelay, "AuthFailureDelay must not be negative.");
        RequirePositive(AuthFailureWindow, nameof(AuthFailureWindow));
        if (MaxAuthFailuresTotal < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxAuthFailuresTotal), MaxAuthFailuresTotal, "MaxAuthFailuresTotal must be at least 1.");
        if (MaxAuthThrottleNetworks < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxAuthThrottleNetworks), MaxAuthThrottleNetworks, "MaxAuthThrottleNetworks must be at least 1.");
        RequirePositive(LoginGraceTime, nameof(LoginGraceTime));
        if (MaxUnauthenticatedConnections < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxUnauthenticatedConnections), MaxUnauthenticatedConnections, "MaxUnauthenticatedConnections must be at least 1.");
        if (MaxUnauthenticatedConnectionsPerAddress < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxUnauthenticatedConnectionsPerAddress), MaxUnauthenticatedConnectionsPerAddress,
                "MaxUnauthenticatedConnectionsPerAddress must be at least 1.");
        if (MaxConcurrentTlsHandshakes < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrentTlsHandshakes), MaxConcurrentTlsHandshakes, "MaxConcurrentTlsHandshakes must be at least 1.");
        RequirePositive(TlsHandshakeTimeout, nameof(TlsHandshakeTimeout));
        if (MinIdleBeforeShed < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(MinIdleBeforeShed), MinIdleBeforeShed, "MinIdleBeforeShed must not be negative.");
        if (InsecureNoAuth && (RequireAuthentication || UseTls))
            throw new ArgumentException("InsecureNoAuth implies no authentication and plain TCP.", nameof(InsecureNoAuth));
        RequirePositive(ExecTimeout, nameof(ExecTimeout));
        if (MaxExecOutputBytes < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxExecOutputBytes), MaxExecOutputBytes, "MaxExecOutputBytes must not be negative.");
        if (MaxConcurrentExec < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrentExec), MaxConcurrentExec, "MaxConcurrentExec must be at least 1.");
        ExecLimits.Validate();
        if (string.IsNullOrWhiteSpace(ExecSandboxProgram))
            throw new ArgumentException("ExecSandboxProgram must name the bubblewrap program.", nameof(ExecSandboxProgram));
        if (string.IsNullOrWhiteSpace(ExecUser))
            throw new ArgumentException("ExecUser must name an OS account.", nameof(ExecUser));
        const UnixFileMode ownerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        const UnixFileMode permissionBits = (UnixFileMode)0x1B6; // rw-rw-rw-: no execute, setuid, setgid or sticky bits
        if ((DataFileMode & ownerReadWrite) != ownerReadWrite || (DataFileMode & ~permissionBits) != 0)
            throw new ArgumentOutOfRangeException(nameof(DataFileMode), DataFileMode, "DataFileMode must give the owner read and write, and hold only read and write bits.");
        if (QuotaBytes is < 0)
            throw new ArgumentOutOfRangeException(nameof(QuotaBytes), QuotaBytes, "QuotaBytes must not be negative.");
        RequirePositive(PartialUploadTtl, nameof(PartialUploadTtl));
        if (MaxOpenUploads < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxOpenUploads), MaxOpenUploads, "MaxOpenUploads must be at least 1.");
        if (MaxOpenUploadsPerUser < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxOpenUploadsPerUser), MaxOpenUploadsPerUser, "MaxOpenUploadsPerUser must be at least 1.");
        if (UsersFileCheckInterval < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(UsersFileCheckInterval), UsersFileCheckInterval, "UsersFileCheckInterval must not be negative.");
        if (MaxUdpRequestsPerUser < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxUdpRequestsPerUser), MaxUdpRequestsPerUser, "MaxUdpRequestsPerUser must be at least 1.");
        if (MaxUdpRequests < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxUdpRequests), MaxUdpRequests, "MaxUdpRequests must be at least 1.");
        // Not RequirePositive: an infinite window would be taken as a negative one, and every datagram as stale.
        if (UdpReplayWindow <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(UdpReplayWindow), UdpReplayWindow, "UdpReplayWindow must be positive.");
        if (UdpResultRetention <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(UdpResultRetention), UdpResultRetention, "UdpResultRetention must be positive.");
        if (MaxUdpOutputBytes < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxUdpOutputBytes), MaxUdpOutputBytes, "MaxUdpOutputBytes must not be negative.");
        if (MaxUdpResultBytesPerUser < MinUdpResultBytes)
            throw new ArgumentOutOfRangeException(nameof(MaxUdpResultBytesPerUser), MaxUdpResultBytesPerUser, $"MaxUdpResultBytesPerUser must be at least {MinUdpResultBytes}.");
        if (MaxUdpResultBytes < MinUdpResultBytes)
            throw new ArgumentOutOfRangeException(nameof(MaxUdpResultBytes), MaxUdpResultBytes, $"MaxUdpResultBytes must be at least {MinUdpResultBytes}.");
        Frames.Validate();
    }

    private static void RequirePositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
    }
}
