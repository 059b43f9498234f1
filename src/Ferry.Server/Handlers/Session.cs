using Ferry.Protocol.Errors;
using Ferry.Server.Storage;

namespace Ferry.Server.Handlers;

/// <summary>Typed per-connection state that outlives a single command.</summary>
public sealed class Session : IAsyncDisposable
{
    private IFileStore? _store;

    /// <param name="store">The store of a server without logins; null until a login picks the user's.</param>
    internal Session(IFileStore? store) => _store = store;

    /// <summary>
    /// Where this connection's files live: the user's home once logged in (the data root on a server without logins).
    /// The dispatcher lets no file command run before that; asking anyway is authentication_required.
    /// </summary>
    internal IFileStore Store
    {
        get => _store ?? throw new FerryException(FerryErrorCode.AuthenticationRequired, "Log in first: this connection has no files yet.");
        set => _store = value;
    }

    /// <summary>Uploads opened by put and not yet ended by put_end, by client id.</summary>
    internal Dictionary<long, OpenUpload> Uploads { get; } = [];

    /// <summary>Two-level delta puts answered with put_groups and waiting for put_chunks (§5.9.6), by client id.</summary>
    internal Dictionary<long, Sync.DeltaUploads.GroupedPut> GroupedPuts { get; } = [];

    /// <summary>The logged-in user; null before login and on servers without authentication.</summary>
    public Auth.UserAccount? User { get; internal set; }

    /// <summary>The users-file generation <see cref="User"/> was last looked up in (<see cref="Auth.UserDirectory.Generation"/>).</summary>
    internal int UserGeneration { get; set; }

    /// <summary>Set once a command other than hello or bye completed: on a server without logins, that ends the login grace time.</summary>
    internal bool CompletedCommand { get; set; }

    /// <summary>Released when the connection ends (connection-limit slots).</summary>
    internal List<IDisposable> Resources { get; } = [];

    /// <summary>The challenge this server sent in its hello (authentication pending).</summary>
    internal byte[]? ServerChallenge { get; set; }

    /// <summary>Set by bye: the dispatcher closes the connection after the reply.</summary>
    public bool CloseRequested { get; internal set; }

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

    /// <summary>Ends what the connection left open; partial uploads stay on disk for a later resume.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var open in Uploads.Values)
        {
            await open.Upload.DisposeAsync().ConfigureAwait(false);
            if (open.Delta is not null)
                await open.Delta.DisposeAsync().ConfigureAwait(false);
        }
        Uploads.Clear();
        GroupedPuts.Clear();
        foreach (var resource in Resources)
            resource.Dispose();
        Resources.Clear();
    }
}

/// <summary>An upload between put and put_end; <see cref="Failure"/> remembers a put_data error until put_end reports it.</summary>
internal sealed class OpenUpload(IUpload upload)
{
    public IUpload Upload { get; } = upload;
    public FerryException? Failure { get; set; }

    /// <summary>Set for a delta put (§5.9.3): which ranges put_data may write, and what put_end completes.</summary>
    public Sync.DeltaUploadState? Delta { get; init; }
}
