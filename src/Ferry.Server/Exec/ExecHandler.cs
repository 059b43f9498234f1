using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;
using Ferry.Server.Auth;
using Ferry.Server.Handlers;

namespace Ferry.Server.Exec;

/// <summary>
/// Runs a command and streams its output (docs/protocol.md §6). While it runs the connection belongs to it: output
/// frames go out as they are produced, stdin and signal frames come in, and a client that goes away takes the whole
/// process tree with it. The rules are <see cref="CommandRunner"/>'s, the same as over UDP.
/// </summary>
internal sealed class ExecHandler(ExecLimiter limiter, CommandRunner runner) : ICommandHandler
{
    public string Command => CommandNames.Exec;
    public Permissions RequiredPermission => Permissions.Exec;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var message = context.Header.Deserialize(FerryJsonContext.Default.ExecMessage);
        var conversation = new TcpCommandStream(context, message.Id);
        var request = runner.Prepare(message, context.Session.User, CommandTransport.Tcp, options.MaxExecOutputBytes, input: conversation);

        using var slot = limiter.TryEnter()
            ?? throw new FerryException(FerryErrorCode.ExecLimitReached, $"The server already runs {options.MaxConcurrentExec} commands; try again shortly.");
        await runner.RunAsync(request, context.Session.Store, conversation, cancellationToken).ConfigureAwait(false);
    }
}
