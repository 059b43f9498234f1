namespace Ferry.Server.Handlers;

/// <summary>
/// Serves one command. A handler reads its request header and body from <see cref="CommandContext"/> and writes its
/// reply frames; it signals failure by throwing a <c>FerryException</c>, which the dispatcher turns into an error frame.
/// A handler need not read the whole body: the rest is skipped for it.
/// </summary>
public interface ICommandHandler
{
    /// <summary>The <c>cmd</c> value this handler serves.</summary>
    string Command { get; }

    /// <summary>Whether the command may run before the peer's hello. Only the handshake itself may.</summary>
    bool AllowedBeforeHello => false;

    /// <summary>Whether the command may run before login. Only hello, auth and bye may.</summary>
    bool AllowedBeforeAuth => false;

    /// <summary>The permission the user needs (docs/security.md §5).</summary>
    Auth.Permissions RequiredPermission => Auth.Permissions.None;

    ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken);
}
