using System.CommandLine;
using Ferry.Client;
using Ferry.Client.Security;

namespace Ferry.Cli.Commands;

/// <summary>
/// How every client command connects: TLS unless --plain, the login from --user/FERRY_USER/FERRY_KEY or the credentials
/// stored by 'ferry login', certificate pins in known_servers. The options are recursive, so they work after any command.
/// </summary>
internal static class ClientConnector
{
    public static readonly Option<bool> Plain = new("--plain")
    {
        Description = "Plain TCP instead of TLS (for servers started with --plain or --insecure-no-auth). Traffic can be read on the path.",
        Recursive = true,
    };

    public static readonly Option<string?> User = new("--user", "-u")
    {
        Description = "User to log in as (default: the one stored by 'ferry login', or FERRY_USER).",
        Recursive = true,
    };

    public static readonly Option<bool> TrustCa = new("--trust-ca")
    {
        Description = "Accept a server certificate signed by a trusted CA for its host name, without a pinned fingerprint.",
        Recursive = true,
    };

    public static void AddTo(RootCommand root)
    {
        root.Options.Add(Plain);
        root.Options.Add(User);
        root.Options.Add(TrustCa);
    }

    /// <summary>Client options for <paramref name="address"/> from the command line, the environment and the stored login.</summary>
    public static FerryClientOptions OptionsFor(ParseResult parse, ServerAddress address, ClientCredentials? credentials = null)
    {
        var error = parse.InvocationConfiguration.Error;
        var user = parse.GetValue(User);
        var known = KnownServers.Default;
        var trustCa = parse.GetValue(TrustCa);
        if (!trustCa)
            SystemTrustStore.LeaveUnloaded(); // the pin decides: the system's CAs would only be loaded to be ignored
        return new FerryClientOptions
        {
            // The command remembers pins across runs in its known_servers file; the library's default keeps them in memory.
            TrustStore = known,
            UseTls = !parse.GetValue(Plain),
            TrustCaSigned = trustCa,
            Credentials = credentials ?? CredentialStore.Default.Find(address.ToString(), user),
            OnFirstUse = (server, fingerprint) =>
                error.WriteLine($"ferry: first connection to {server}; its certificate fingerprint {fingerprint} is now pinned in {known.Path}."),
        };
    }

    public static Task<FerryClient> ConnectAsync(ParseResult parse, ServerAddress address, CancellationToken cancellationToken) =>
        FerryClient.ConnectAsync(address, OptionsFor(parse, address), cancellationToken);
}
