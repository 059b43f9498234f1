using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Handlers;

/// <summary>Polite goodbye: answer ok, then the server closes the connection.</summary>
internal sealed class ByeHandler : ICommandHandler
{
    public string Command => CommandNames.Bye;
    public bool AllowedBeforeHello => true;
    public bool AllowedBeforeAuth => true;

    public ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        context.Writer.WriteHeader(new OkMessage(), FerryJsonContext.Default.OkMessage);
        context.Session.CloseRequested = true;
        return ValueTask.CompletedTask;
    }
}
