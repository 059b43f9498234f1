using Ferry.Client.Security;
using Ferry.Protocol.Framing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Client;

/// <summary>
/// How a <see cref="FerryClient"/> connects: TLS and trust, the login, timeouts and retries, logging. Immutable: derive
/// variants with <c>with</c>. Each property documents its default; <c>new FerryClientOptions()</c> is TLS with trust on
/// first use into an in-memory <see cref="TrustStore"/>, no credentials, a 10 s connect timeout and 3 attempts.
/// </summary>
public sealed record FerryClientOptions
{
    /// <summary>The defaults (a shared instance: its in-memory <see cref="TrustStore"/> is shared by every client using it).</summary>
    public static FerryClientOptions Default { get; } = new();

    /// <summary>Time allowed for the TCP connect and the hello exchange. Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How many times <see cref="FerryClient.ConnectAsync"/> tries in all, within <see cref="ConnectTimeout"/>, when the
    /// server turns the connection away before the login completed for a reason that passes: server_busy (its limit, or
    /// shed to make room for others while it waited to log in), login_timeout, or the connection dropped during the
    /// TLS handshake, the hello or the login. Nothing but the handshake has been sent by then, so trying again is safe.
    /// Refused connections (no server listening), certificate and login failures are never retried. Default 3; 1
    /// disables retries.
    /// </summary>
    public int ConnectAttempts { get; init; } = 3;

    /// <summary>Called before each retry of the connection with what ended the previous attempt and the wait before the next.</summary>
    public Action<Exception, TimeSpan>? OnConnectRetry { get; init; }

    /// <summary>Frame bounds applied to what the server sends. Default <see cref="FrameLimits.Default"/> (64 KiB headers).</summary>
    public FrameLimits Frames { get; init; } = FrameLimits.Default;

    /// <summary>Use TLS (default). Off means plain TCP, where frames are authenticated with MACs after login.</summary>
    public bool UseTls { get; init; } = true;

    /// <summary>
    /// The login to use when the server requires one. Default none: only servers without authentication are accepted
    /// (<c>authentication_required</c> otherwise). With credentials, a server that does not prove it knows the key is
    /// refused (<c>server_not_authenticated</c>).
    /// </summary>
    public ClientCredentials? Credentials { get; init; }

    /// <summary>
    /// Certificate pins checked, and on first use written, by TLS connections. Default: a new, empty
    /// <see cref="InMemoryServerTrustStore"/> per options instance (shared by copies made with <c>with</c>), so nothing
    /// is written to disk and first-use pins last as long as the options do. The <c>ferry</c> command uses its
    /// <c>known_servers</c> file instead.
    /// </summary>
    public IServerTrustStore TrustStore { get; init; } = new InMemoryServerTrustStore();

    /// <summary>
    /// Where the client logs connection attempts, retries and first-use pins (categories <c>Ferry.Client.*</c>). Default
    /// <see cref="NullLoggerFactory.Instance"/>: nothing is logged.
    /// </summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>Accept a certificate that chains to a trusted CA and matches the host name, without a pin. Default false.</summary>
    public bool TrustCaSigned { get; init; }

    /// <summary>Pin an unknown server's certificate on first use (default). Off: unknown servers are refused.</summary>
    public bool TrustOnFirstUse { get; init; } = true;

    /// <summary>Called when a server's fingerprint was pinned for the first time (server, fingerprint), so the user can check it.</summary>
    public Action<string, string>? OnFirstUse { get; init; }

    /// <summary>
    /// Refuse a server that does not authenticate even when this client has no <see cref="Credentials"/> (default false:
    /// servers in --insecure-no-auth mode are accepted by a client without credentials). A client with credentials
    /// always refuses such a server (server_not_authenticated), on plain TCP and TLS alike.
    /// </summary>
    public bool RequireServerAuthentication { get; init; }

    /// <summary>Announced in hello, for the server's logs.</summary>
    public string Agent { get; init; } = $"ferry-client/{typeof(FerryClientOptions).Assembly.GetName().Version?.ToString(3)}";
}
