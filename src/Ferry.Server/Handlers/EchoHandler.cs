using System.Buffers;
using Ferry.Protocol.Errors;
using Ferry.Protocol.Framing;
using Ferry.Protocol.Messages;

namespace Ferry.Server.Handlers;

/// <summary>
/// The socketserver demo: replies with the body, ASCII letters upper-cased (as Python's <c>bytes.upper()</c>).
/// The body streams through: it is never held whole, so its size is bounded only by <c>MaxEchoBytes</c>.
/// </summary>
internal sealed class EchoHandler : ICommandHandler
{
    public string Command => CommandNames.Echo;

    public async ValueTask HandleAsync(CommandContext context, CancellationToken cancellationToken)
    {
        var length = context.Header.BodyLength;
        if (length > context.Options.MaxEchoBytes)
            throw new FerryProtocolException(FerryErrorCode.BodyTooLarge,
                $"Echo body of {length} bytes exceeds the limit of {context.Options.MaxEchoBytes}.", isFatal: true);

        var writer = context.Writer;
        writer.WriteHeader(new EchoMessage { BodySize = length }, FerryJsonContext.Default.EchoMessage, length);
        var reader = context.Reader;
        while (reader.BodyRemaining > 0)
        {
            var chunk = await reader.ReadBodyChunkAsync(cancellationToken).ConfigureAwait(false);
            var target = writer.GetBodyMemory((int)Math.Min(chunk.Length, 64 * 1024)).Span;
            chunk.Slice(0, target.Length).CopyTo(target);
            UpperCaseAscii(target);
            writer.AdvanceBody(target.Length);
            reader.AdvanceBody(chunk, target.Length);
            await context.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Upper-cases a-z and leaves every other byte (including UTF-8 sequences) as it is.</summary>
    internal static void UpperCaseAscii(Span<byte> bytes)
    {
        foreach (ref var b in bytes)
        {
            if ((uint)(b - 'a') <= 'z' - 'a')
                b = (byte)(b - 32);
        }
    }
}
