using Ferry.Protocol.Framing;

namespace Ferry.Client;

/// <summary>Client settings.</summary>
public sealed record FerryClientOptions
{
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

    /// <summary>Frame bounds applied to what the server sends.</summary>
    public FrameLimits Frames { get; init; } = FrameLimits.Default;

    /// <summary>Use TLS (default). Off means plain TCP, where frames are authenticated with MACs after login.</summary>
    public bool UseTls { get; init; } = true;

    /// <summary>The login to use when the server requires one.</summary>
    public Security.ClientCredentials? Credentials { get; init; }

    /// <summary>Certificate pins; default ~/.config/ferry/known_servers.</summary>
    public Security.KnownServers? KnownServers { get; init; }

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
