namespace Ferry.Server.Handlers;

/// <summary>Typed per-connection state that outlives a single command.</summary>
public sealed class Session
{
    /// <summary>Set once the peer's hello was accepted.</summary>
    public bool HelloReceived { get; internal set; }

    /// <summary>Protocol version the peer announced (0 for a classic client that sent no hello).</summary>
    public int PeerVersion { get; internal set; }

    /// <summary>Features the peer announced in its hello.</summary>
    public IReadOnlySet<string> PeerFeatures { get; internal set; } = new HashSet<string>();

    /// <summary>
    /// A classic client (no hello; only allowed with --insecure-no-auth): it reads no replies, so successful commands
    /// send none.
    /// </summary>
    public bool IsClassic => !HelloReceived;
}
