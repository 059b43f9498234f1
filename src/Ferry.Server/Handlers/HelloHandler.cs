using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Logging;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Handlers;

/// <summary>The opening handshake (docs/protocol.md §3): check the version, answer with the server's own hello.</summary>
internal sealed class HelloHandler(ILogger<HelloHandler> logger) : ICommandHandler
{
    /// <summary>Software name and version announced in the server's hello.</summary>
    public static string AgentName { get; } = $"ferry-server/{typeof(HelloHandler).Assembly.GetName().Version?.ToString(3)}";

    public string Command => CommandNames.Hello;
    public bool AllowedBeforeHello => true;
    public bool AllowedBeforeAuth => true;

    public ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var hello = context.Header.Deserialize(FerryJsonContext.Default.HelloMessage);
        if (context.Session.HelloReceived)
            throw new FerryException(FerryErrorCode.UnexpectedFrame, "Hello was already received on this connection.");
        if (hello.Version != ProtocolVersion.Current)
            throw new FerryException(FerryErrorCode.VersionUnsupported,
                $"Protocol version {hello.Version} is not supported; this server speaks version {ProtocolVersion.Current}.");

        context.Session.HelloReceived = true;
        context.Session.PeerVersion = hello.Version;
        context.Session.PeerFeatures = (hello.Features ?? []).ToHashSet(StringComparer.Ordinal);
        ServerLog.HelloReceived(logger, PeerText.Escape(hello.Agent) ?? "(unnamed)", hello.Version);

        var requireAuth = context.Options.RequireAuthentication;
        if (requireAuth)
            context.Session.ServerChallenge = Ferry.Protocol.Auth.Handshake.NewChallenge();
        context.Writer.WriteHeader(new HelloMessage
        {
            Version = ProtocolVersion.Current,
            Features = context.ServerFeatures,
            Agent = AgentName,
            Auth = requireAuth ? Ferry.Protocol.Auth.Handshake.Method : "none",
            Challenge = context.Session.ServerChallenge,
        }, FerryJsonContext.Default.HelloMessage);
        return ValueTask.CompletedTask;
    }
}
